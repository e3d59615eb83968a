// Closing a listening TCP socket resets every connection in its accept queue:
// the kernel completed their handshakes (their clients may have sent a whole
// request), and close() sends each an RST. No socket call stops the kernel
// from completing new handshakes while the queue is drained (listen() cannot
// un-listen; shutdown() and connect(AF_UNSPEC) flush the queue like close()).
// A socket filter can: it runs on every packet that reaches the listener, and
// one that drops a SYN without ACK refuses new connections (their SYN is never
// answered; its retransmission, a second later, meets the closed socket and is
// refused) while handshakes under way (their final ACK) still complete.
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "poold.h"

// Classic BPF, as the kernel's ABI has it (linux/filter.h, which the musl
// toolchain of the prebuilds does not ship).
typedef struct {
  uint16_t code;
  uint8_t jt;
  uint8_t jf;
  uint32_t k;
} bpf_instruction;

typedef struct {
  unsigned short len;
  bpf_instruction *filter;
} bpf_program;

#define LOAD_BYTE_AT 0x30 /* BPF_LD | BPF_B | BPF_ABS */
#define AND_CONSTANT 0x54 /* BPF_ALU | BPF_AND | BPF_K */
#define JUMP_IF_EQUAL 0x15 /* BPF_JMP | BPF_JEQ | BPF_K */
#define RETURN 0x06 /* BPF_RET | BPF_K: keep that many bytes of the packet, 0 drops it */

/** Byte 13 of the TCP header holds its flags; the filter sees the packet from the TCP header on. */
#define TCP_FLAGS_OFFSET 13
#define TCP_SYN 0x02
#define TCP_ACK 0x10

// dropNewConnections(fd): new connections to the listening TCP socket `fd`
// are dropped from now on; those under way or queued are not touched.
static napi_value drop_new_connections(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "dropNewConnections(fd): an open file descriptor");
    return NULL;
  }
  bpf_instruction code[] = {
    { LOAD_BYTE_AT, 0, 0, TCP_FLAGS_OFFSET },
    { AND_CONSTANT, 0, 0, TCP_SYN | TCP_ACK },
    { JUMP_IF_EQUAL, 0, 1, TCP_SYN },
    { RETURN, 0, 0, 0 },
    { RETURN, 0, 0, 0xffffffff },
  };
  bpf_program program = { .len = sizeof code / sizeof code[0], .filter = code };
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) != 0) {
    poold_throw_errno(env, "setsockopt(SO_ATTACH_FILTER)", errno);
    return NULL;
  }
  return NULL;
}

int poold_register_listener(napi_env env, napi_value exports) {
  return poold_export(env, exports, "dropNewConnections", drop_new_connections);
}
