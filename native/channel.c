// The dispatch channel between the master and one worker: a SOCK_SEQPACKET
// socketpair carrying small binary records, each of which may carry one file
// descriptor (SCM_RIGHTS). A connection is handed over with one sendmsg(); the
// receiving side is woken by a uv_poll on its end and reads every record that
// is there. Node's own IPC would frame JSON, wrap the handle and wait for an
// ACK per hand-over.
//
// Record: { uint8 type; uint8 reserved[3]; uint32 id; } then the payload.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include "poold.h"

#define RECORD_HEADER 8
/** Tells a channel from any other external (a parking passed by mistake). */
static const napi_type_tag CHANNEL_TAG = {0x706f6f6c642e6368ULL, 0x616e6e656c000001ULL};
/** Records read per wake-up before the loop gets a turn. */
#define READS_PER_WAKE 64

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context context;
  int fd;
  /** close() was called: the poll is stopped and the descriptor closed. */
  int closed;
  /** The memory is freed once libuv is done with the handle and JS with the external, whichever is last. */
  int handle_closed;
  int finalized;
  size_t capacity;
  uint8_t *buffer;
} channel_t;

static int arg_int32(napi_env env, napi_value value, int32_t *out) {
  return napi_get_value_int32(env, value, out) == napi_ok;
}

// socketpair() -> [fd, fd]: a SOCK_SEQPACKET pair, both close-on-exec (a
// child gets its end through spawn's stdio, which duplicates it).
static napi_value make_pair(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    poold_throw_errno(env, "socketpair", errno);
    return NULL;
  }
  napi_value pair, a, b;
  napi_create_array_with_length(env, 2, &pair);
  napi_create_int32(env, fds[0], &a);
  napi_create_int32(env, fds[1], &b);
  napi_set_element(env, pair, 0, a);
  napi_set_element(env, pair, 1, b);
  return pair;
}

static void call_back(channel_t *channel, int type, uint32_t id, int fd, const uint8_t *payload, size_t length) {
  napi_env env = channel->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, receiver, argv[4], result;
  napi_get_reference_value(env, channel->callback, &callback);
  // The receiver must be an object: napi_make_callback converts it with
  // ToObject, and undefined would throw instead of calling.
  napi_get_global(env, &receiver);
  napi_create_int32(env, type, &argv[0]);
  napi_create_uint32(env, id, &argv[1]);
  napi_create_int32(env, fd, &argv[2]);
  if (length == 0 || napi_create_buffer_copy(env, length, payload, NULL, &argv[3]) != napi_ok) {
    napi_get_undefined(env, &argv[3]);
  }
  // make_callback, not call_function: process.nextTick callbacks and
  // promise jobs the record caused run right after it, as after any I/O.
  bool pending = false;
  if (napi_make_callback(env, channel->context, receiver, callback, 4, argv, &result) != napi_ok &&
      napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
  napi_close_handle_scope(env, scope);
}

static void stop_polling(channel_t *channel) {
  if (!channel->closed && uv_is_active((uv_handle_t *)&channel->poll)) uv_poll_stop(&channel->poll);
}

// Reads the records waiting on the channel, at most READS_PER_WAKE, calling
// back once per record. Safe to re-enter from a callback: each record is
// copied out before its callback runs.
static void read_records(channel_t *channel) {
  for (int i = 0; i < READS_PER_WAKE && !channel->closed; i++) {
    union {
      struct cmsghdr header;
      char space[CMSG_SPACE(sizeof(int))];
    } control;
    struct iovec iov = {channel->buffer, channel->capacity};
    struct msghdr message = {0};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control.space;
    message.msg_controllen = sizeof control.space;
    ssize_t length = recvmsg(channel->fd, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (length < 0 && errno == EINTR) continue;
    if (length < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (length <= 0) {
      // 0: the other side closed its end; type 0 tells JS, with the errno if any.
      stop_polling(channel);
      call_back(channel, 0, length < 0 ? (uint32_t)errno : 0, -1, NULL, 0);
      return;
    }
    // The control buffer has room for two descriptors (CMSG_SPACE rounds
    // up), so a peer that sends two gets both through: count them all.
    int fd = -1, received = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t k = 0; k < count; k++, received++) {
        int each;
        memcpy(&each, CMSG_DATA(c) + k * sizeof(int), sizeof each);
        if (received == 0) fd = each;
        else close(each);
      }
    }
    if ((size_t)length < RECORD_HEADER || received > 1 || (message.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
      // Not a record poold sends: drop it, and never leak what it carried.
      if (fd >= 0) close(fd);
      continue;
    }
    uint32_t id;
    memcpy(&id, channel->buffer + 4, sizeof id);
    call_back(channel, channel->buffer[0], id, fd, channel->buffer + RECORD_HEADER, (size_t)length - RECORD_HEADER);
  }
}

static void on_poll(uv_poll_t *poll, int status, int events) {
  channel_t *channel = poll->data;
  (void)events;
  if (status < 0) {
    stop_polling(channel);
    call_back(channel, 0, (uint32_t)-status, -1, NULL, 0);
    return;
  }
  read_records(channel);
}

static void release(channel_t *channel) {
  free(channel->buffer);
  free(channel);
}

// The external is gone: JS can no longer send or close. An open channel keeps
// polling and calling back (a receiver need not hold on to it); a closed one
// is freed once libuv has let go of its handle too.
static void finalize_channel(napi_env env, void *data, void *hint) {
  channel_t *channel = data;
  (void)env;
  (void)hint;
  channel->finalized = 1;
  if (channel->handle_closed) release(channel);
}

static void on_handle_closed(uv_handle_t *handle) {
  channel_t *channel = handle->data;
  channel->handle_closed = 1;
  if (channel->finalized) release(channel);
}

// open(fd, capacity, callback(type, id, fd, payload)) -> channel: polls `fd`
// (made non-blocking) and calls back once per record; type 0 means the other
// end is gone (id: the errno, or 0). Records longer than `capacity` bytes of
// payload are dropped. The poll does not keep the event loop alive.
static napi_value open_channel(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd = -1, capacity = 0;
  napi_valuetype type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 || !arg_int32(env, argv[0], &fd) ||
      !arg_int32(env, argv[1], &capacity) || napi_typeof(env, argv[2], &type) != napi_ok || type != napi_function ||
      fd < 0 || capacity < 0) {
    napi_throw_type_error(env, NULL, "open(fd, capacity, callback)");
    return NULL;
  }
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    poold_throw_errno(env, "fcntl", errno);
    return NULL;
  }
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    napi_throw_error(env, NULL, "no event loop");
    return NULL;
  }
  channel_t *channel = calloc(1, sizeof *channel);
  uint8_t *buffer = malloc((size_t)capacity + RECORD_HEADER);
  if (!channel || !buffer) {
    free(channel);
    free(buffer);
    poold_throw_errno(env, "malloc", ENOMEM);
    return NULL;
  }
  channel->env = env;
  channel->fd = fd;
  channel->capacity = (size_t)capacity + RECORD_HEADER;
  channel->buffer = buffer;
  int err = uv_poll_init_socket(loop, &channel->poll, fd);
  if (err != 0) {
    free(channel);
    free(buffer);
    poold_throw_errno(env, "uv_poll_init", -err);
    return NULL;
  }
  channel->poll.data = channel;
  err = uv_poll_start(&channel->poll, UV_READABLE, on_poll);
  if (err != 0) {
    // No external will ever own it: the close callback frees it.
    channel->closed = channel->finalized = 1;
    uv_close((uv_handle_t *)&channel->poll, on_handle_closed);
    poold_throw_errno(env, "uv_poll_start", -err);
    return NULL;
  }
  uv_unref((uv_handle_t *)&channel->poll);
  napi_value name;
  napi_create_string_utf8(env, "poold.channel", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[2], 1, &channel->callback);
  napi_async_init(env, NULL, name, &channel->context);
  // Without an external (no memory left), the channel polls on, unreachable: as before any failure here.
  return poold_tagged_external(env, channel, finalize_channel, &CHANNEL_TAG);
}

static channel_t *channel_arg(napi_env env, napi_value value) {
  return poold_external_arg(env, value, &CHANNEL_TAG);
}

// send(channel, type, id, fd, payload?) -> true, or false when the channel is
// full (EAGAIN): the caller tries another time. Any other failure throws.
static napi_value send_record(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int32_t type = 0, fd = -1;
  uint32_t id = 0;
  void *payload = NULL;
  size_t length = 0;
  channel_t *channel = NULL;
  napi_valuetype payload_type = napi_undefined;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 ||
      !(channel = channel_arg(env, argv[0])) || !arg_int32(env, argv[1], &type) ||
      napi_get_value_uint32(env, argv[2], &id) != napi_ok || !arg_int32(env, argv[3], &fd) || type < 0 || type > 255) {
    napi_throw_type_error(env, NULL, "send(channel, type, id, fd, payload?)");
    return NULL;
  }
  if (argc > 4) napi_typeof(env, argv[4], &payload_type);
  if (payload_type != napi_undefined && napi_get_buffer_info(env, argv[4], &payload, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "send(): the payload must be a Buffer");
    return NULL;
  }
  if (channel->closed) {
    poold_throw_errno(env, "sendmsg", EBADF);
    return NULL;
  }
  uint8_t header[RECORD_HEADER] = {(uint8_t)type, 0, 0, 0};
  memcpy(header + 4, &id, sizeof id);
  struct iovec iov[2] = {{header, RECORD_HEADER}, {payload, length}};
  union {
    struct cmsghdr header;
    char space[CMSG_SPACE(sizeof(int))];
  } control;
  struct msghdr message = {0};
  message.msg_iov = iov;
  message.msg_iovlen = length > 0 ? 2 : 1;
  if (fd >= 0) {
    memset(&control, 0, sizeof control);
    message.msg_control = control.space;
    message.msg_controllen = sizeof control.space;
    struct cmsghdr *c = CMSG_FIRSTHDR(&message);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  ssize_t sent;
  do sent = sendmsg(channel->fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  napi_value result;
  if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    napi_get_boolean(env, 0, &result);
    return result;
  }
  if (sent < 0) {
    poold_throw_errno(env, "sendmsg", errno);
    return NULL;
  }
  napi_get_boolean(env, 1, &result);
  return result;
}

// The one argument of close() and poll(): a channel, or NULL with a TypeError thrown.
static channel_t *only_channel_arg(napi_env env, napi_callback_info info, const char *usage) {
  size_t argc = 1;
  napi_value argv[1];
  channel_t *channel = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      !(channel = channel_arg(env, argv[0]))) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  return channel;
}

// close(channel): stops polling and closes the descriptor; idempotent.
static napi_value close_channel(napi_env env, napi_callback_info info) {
  channel_t *channel = only_channel_arg(env, info, "close(channel)");
  if (channel && !channel->closed) {
    stop_polling(channel);
    channel->closed = 1;
    close(channel->fd);
    napi_delete_reference(env, channel->callback);
    napi_async_destroy(env, channel->context);
    uv_close((uv_handle_t *)&channel->poll, on_handle_closed);
  }
  return NULL;
}

// poll(channel): reads the records already waiting, now, as the poll would on
// the loop's next turn: a worker about to run a request that fills its room
// takes in (and gives back) the requests handed to it meanwhile.
static napi_value poll_now(napi_env env, napi_callback_info info) {
  channel_t *channel = only_channel_arg(env, info, "poll(channel)");
  if (channel && !channel->closed) read_records(channel);
  return NULL;
}

// peek(fd, buffer) -> how many bytes are waiting on a connected socket, copied
// into `buffer` without taking them (MSG_PEEK): the master looks for a whole
// request head and, when it is there, hands the connection over with the
// bytes still in the kernel for the worker to read. 0: nothing yet; -1: the
// peer closed.
static napi_value peek(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd = -1;
  void *data = NULL;
  size_t length = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 || !arg_int32(env, argv[0], &fd) ||
      fd < 0 || napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "peek(fd, buffer)");
    return NULL;
  }
  ssize_t got;
  do got = recv(fd, data, length, MSG_PEEK | MSG_DONTWAIT);
  while (got < 0 && errno == EINTR);
  if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) got = 0;
  else if (got == 0 && length > 0) got = -1;
  else if (got < 0) {
    poold_throw_errno(env, "recv", errno);
    return NULL;
  }
  napi_value result;
  napi_create_int32(env, (int32_t)got, &result);
  return result;
}

int poold_register_channel(napi_env env, napi_value exports) {
  return poold_export(env, exports, "socketpair", make_pair) && poold_export(env, exports, "open", open_channel) &&
         poold_export(env, exports, "send", send_record) && poold_export(env, exports, "close", close_channel) && poold_export(env, exports, "peek", peek) &&
         poold_export(env, exports, "poll", poll_now);
}
