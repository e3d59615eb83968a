// Parking: connections a worker holds while it has no room for their
// requests (its idle kept-alive ones, and one the master handed over just as
// it filled up). The request that filled the worker may block its event loop,
// so the worker cannot see a request arrive on them; a thread of this helper
// does. A connection parked for `grace` whose request has begun arriving is
// given to the master with a record on the dispatch channel, and the master
// dispatches it to a worker with room. One the worker unparks first (room
// came back: most requests are short) is read by the worker as before, and
// parking it cost this helper no system call.
//
// The thread does not wait on the connections: a parked one is most often
// readable already (clients keep their connections busy), so watching it
// would wake the thread for nearly every request. It looks every `grace`
// instead, while connections have been parked lately, and sleeps otherwise.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "poold.h"

#define NONE UINT32_MAX
/** Tells a parking from any other external (a channel passed by mistake). */
static const napi_type_tag PARKING_TAG = {0x706f6f6c642e7061ULL, 0x726b696e67000001ULL};
/** After its last parking, the thread goes on looking this long before it sleeps (a wake-up costs more than a look). */
#define LINGER_NS 1000000000LL
/** How long a record the channel had no room for waits before it is sent again. */
#define RESEND_NS 1000000LL

typedef struct {
  /** Parkings of this entry so far: what the thread saw of one is never taken for the next. */
  uint32_t generation;
  uint8_t parked;
  /** Taken by the thread: the worker no longer has it. */
  uint8_t taken;
  /** The record that tells the master it has the connection back. */
  uint8_t record_type;
  /** The worker's descriptor. If the worker closes it while parked, its number may name another connection for a moment: the thread only peeks at it, and its worst mistake is to hand back a connection the worker had given up. */
  int fd;
  int64_t since;
  uint32_t previous, next;
} spot_t;

typedef struct {
  uint32_t entry, generation;
  int fd;
} candidate_t;

typedef struct {
  uint32_t entry;
  uint8_t record_type;
} taken_t;

typedef struct {
  pthread_mutex_t lock;
  spot_t *spots;
  uint32_t capacity;
  /** The parked spots, a list through spot_t's links. */
  uint32_t first;
  uint32_t count;
  int64_t last_parked;
  int sleeping;
  int stopping;
  int wake_fd;
  int channel_fd;
  int64_t grace_ns;
  pthread_t thread;
  int joined;
  // The thread's own.
  candidate_t *candidates;
  size_t candidate_capacity;
  taken_t *unsent;
  size_t unsent_count, unsent_capacity;
} parking_t;

static int64_t now_ns(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static void link_spot(parking_t *parking, uint32_t entry) {
  spot_t *spot = &parking->spots[entry];
  spot->previous = NONE;
  spot->next = parking->first;
  if (parking->first != NONE) parking->spots[parking->first].previous = entry;
  parking->first = entry;
  parking->count++;
}

static void unlink_spot(parking_t *parking, uint32_t entry) {
  spot_t *spot = &parking->spots[entry];
  if (spot->previous != NONE) parking->spots[spot->previous].next = spot->next;
  else parking->first = spot->next;
  if (spot->next != NONE) parking->spots[spot->next].previous = spot->previous;
  parking->count--;
}

/** Sends the record of a connection taken; false when the channel is full (to be sent again). */
static int send_taken(parking_t *parking, taken_t taken) {
  uint8_t record[8] = {taken.record_type, 0, 0, 0};
  memcpy(record + 4, &taken.entry, sizeof taken.entry);
  ssize_t sent;
  do sent = send(parking->channel_fd, record, sizeof record, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  // A channel whose master is gone takes no record: the worker is about to exit.
  return sent >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

static void send_unsent(parking_t *parking) {
  size_t kept = 0;
  for (size_t i = 0; i < parking->unsent_count; i++) {
    if (kept > 0 || !send_taken(parking, parking->unsent[i])) parking->unsent[kept++] = parking->unsent[i];
  }
  parking->unsent_count = kept;
}

static int grow(void **items, size_t *capacity, size_t needed, size_t size) {
  if (needed <= *capacity) return 1;
  size_t grown = *capacity ? *capacity : 16;
  while (grown < needed) grown *= 2;
  void *moved = realloc(*items, grown * size);
  if (!moved) return 0;
  *items = moved;
  *capacity = grown;
  return 1;
}

/** Whether a request (or the peer's close) waits unread on `fd`. */
static int readable(int fd) {
  char byte;
  ssize_t peeked;
  do peeked = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  while (peeked < 0 && errno == EINTR);
  return peeked >= 0;
}

// Takes the connections parked for `grace` whose next request is arriving.
// Without memory for its list, the thread takes none this time: they wait for
// the worker's room, as they would without parking.
static void take_due(parking_t *parking, int64_t now) {
  size_t count = 0;
  pthread_mutex_lock(&parking->lock);
  if (grow((void **)&parking->candidates, &parking->candidate_capacity, parking->count, sizeof(candidate_t))) {
    for (uint32_t entry = parking->first; entry != NONE; entry = parking->spots[entry].next) {
      spot_t *spot = &parking->spots[entry];
      if (now - spot->since >= parking->grace_ns) parking->candidates[count++] = (candidate_t){entry, spot->generation, spot->fd};
    }
  }
  pthread_mutex_unlock(&parking->lock);
  for (size_t i = 0; i < count; i++) {
    candidate_t candidate = parking->candidates[i];
    if (!readable(candidate.fd)) continue;
    if (!grow((void **)&parking->unsent, &parking->unsent_capacity, parking->unsent_count + 1, sizeof(taken_t))) return;
    pthread_mutex_lock(&parking->lock);
    spot_t *spot = &parking->spots[candidate.entry];
    int take = spot->parked && !spot->taken && spot->generation == candidate.generation;
    if (take) {
      spot->taken = 1;
      unlink_spot(parking, candidate.entry);
      parking->unsent[parking->unsent_count++] = (taken_t){candidate.entry, spot->record_type};
    }
    pthread_mutex_unlock(&parking->lock);
  }
  send_unsent(parking);
}

static void *watch(void *data) {
  parking_t *parking = data;
  // Signals are the main thread's to take (Node's handlers run there).
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  int grace_ms = (int)((parking->grace_ns + 999999) / 1000000);
  for (;;) {
    pthread_mutex_lock(&parking->lock);
    int64_t now = now_ns();
    int idle = parking->count == 0 && parking->unsent_count == 0 && now - parking->last_parked >= LINGER_NS;
    parking->sleeping = idle;
    int stopping = parking->stopping;
    pthread_mutex_unlock(&parking->lock);
    if (stopping) return NULL;
    struct pollfd wake = {parking->wake_fd, POLLIN, 0};
    int timeout = idle ? -1 : parking->unsent_count > 0 ? (int)(RESEND_NS / 1000000) : grace_ms;
    if (poll(&wake, 1, timeout) > 0) {
      uint64_t counter;
      ssize_t drained = read(parking->wake_fd, &counter, sizeof counter);
      (void)drained;
    }
    take_due(parking, now_ns());
  }
}

static void stop_thread(parking_t *parking) {
  if (parking->joined) return;
  pthread_mutex_lock(&parking->lock);
  parking->stopping = 1;
  pthread_mutex_unlock(&parking->lock);
  uint64_t one = 1;
  ssize_t written;
  do written = write(parking->wake_fd, &one, sizeof one);
  while (written < 0 && errno == EINTR);
  pthread_join(parking->thread, NULL);
  parking->joined = 1;
  close(parking->wake_fd);
}

static void finalize_parking(napi_env env, void *data, void *hint) {
  parking_t *parking = data;
  (void)env;
  (void)hint;
  stop_thread(parking);
  pthread_mutex_destroy(&parking->lock);
  free(parking->candidates);
  free(parking->unsent);
  free(parking->spots);
  free(parking);
}

static parking_t *parking_arg(napi_env env, napi_value value) {
  return poold_external_arg(env, value, &PARKING_TAG);
}

// openParking(channelFd, capacity, graceMs) -> parking: entries
// 0..capacity-1 can be parked; a connection taken is announced on channelFd
// with the record its parking named, its entry as id.
static napi_value open_parking(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t channel_fd = -1, capacity = 0;
  double grace_ms = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 ||
      napi_get_value_int32(env, argv[0], &channel_fd) != napi_ok ||
      napi_get_value_int32(env, argv[1], &capacity) != napi_ok || napi_get_value_double(env, argv[2], &grace_ms) != napi_ok ||
      channel_fd < 0 || capacity <= 0 || grace_ms <= 0) {
    napi_throw_type_error(env, NULL, "openParking(channelFd, capacity, graceMs)");
    return NULL;
  }
  parking_t *parking = calloc(1, sizeof *parking);
  spot_t *spots = calloc((size_t)capacity, sizeof *spots);
  if (!parking || !spots) {
    free(parking);
    free(spots);
    poold_throw_errno(env, "calloc", ENOMEM);
    return NULL;
  }
  parking->spots = spots;
  parking->capacity = (uint32_t)capacity;
  parking->first = NONE;
  parking->channel_fd = channel_fd;
  parking->grace_ns = (int64_t)(grace_ms * 1e6);
  pthread_mutex_init(&parking->lock, NULL);
  const char *failed = "eventfd";
  parking->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int err = parking->wake_fd < 0 ? errno : 0;
  if (!err) {
    err = pthread_create(&parking->thread, NULL, watch, parking);
    failed = "pthread_create";
    if (err) close(parking->wake_fd);
  }
  if (err) {
    pthread_mutex_destroy(&parking->lock);
    free(spots);
    free(parking);
    poold_throw_errno(env, failed, err);
    return NULL;
  }
  napi_value external = poold_tagged_external(env, parking, finalize_parking, &PARKING_TAG);
  if (!external) finalize_parking(env, parking, NULL);
  return external;
}

// Parses (parking, entry[, fd, recordType]); NULL with a TypeError thrown when they are not that.
static parking_t *parking_call(napi_env env, napi_callback_info info, size_t arity, uint32_t *entry, int32_t *fd,
                               int32_t *record_type, const char *usage) {
  size_t argc = arity;
  napi_value argv[4];
  parking_t *parking = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != arity ||
      !(parking = parking_arg(env, argv[0])) || napi_get_value_uint32(env, argv[1], entry) != napi_ok ||
      *entry >= parking->capacity ||
      (arity == 4 && (napi_get_value_int32(env, argv[2], fd) != napi_ok || *fd < 0 ||
                      napi_get_value_int32(env, argv[3], record_type) != napi_ok || *record_type < 1 ||
                      *record_type > 255))) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  if (parking->joined) {
    poold_throw_errno(env, usage, EBADF);
    return NULL;
  }
  return parking;
}

// park(parking, entry, fd, recordType): from now on the thread may take this
// connection, and then tells the master with a record of recordType. The
// caller stops reading `fd` first.
static napi_value park(napi_env env, napi_callback_info info) {
  uint32_t entry = 0;
  int32_t fd = -1, record_type = 0;
  parking_t *parking = parking_call(env, info, 4, &entry, &fd, &record_type, "park(parking, entry, fd, recordType)");
  if (!parking) return NULL;
  int64_t now = now_ns();
  pthread_mutex_lock(&parking->lock);
  spot_t *spot = &parking->spots[entry];
  int already = spot->parked;
  int wake = 0;
  if (!already) {
    spot->generation++;
    spot->parked = 1;
    spot->taken = 0;
    spot->record_type = (uint8_t)record_type;
    spot->fd = fd;
    spot->since = now;
    link_spot(parking, entry);
    parking->last_parked = now;
    wake = parking->sleeping;
    parking->sleeping = 0;
  }
  pthread_mutex_unlock(&parking->lock);
  if (already) {
    poold_throw_errno(env, "park", EEXIST);
    return NULL;
  }
  if (wake) {
    uint64_t one = 1;
    ssize_t written;
    do written = write(parking->wake_fd, &one, sizeof one);
    while (written < 0 && errno == EINTR);
  }
  return NULL;
}

// unpark(parking, entry) -> true when the caller has the connection again,
// false when the thread handed it back to the master (the caller then closes
// its descriptor without touching the connection).
static napi_value unpark(napi_env env, napi_callback_info info) {
  uint32_t entry = 0;
  parking_t *parking = parking_call(env, info, 2, &entry, NULL, NULL, "unpark(parking, entry)");
  if (!parking) return NULL;
  pthread_mutex_lock(&parking->lock);
  spot_t *spot = &parking->spots[entry];
  int was_parked = spot->parked, kept = !spot->taken;
  if (was_parked && kept) unlink_spot(parking, entry);
  spot->parked = 0;
  spot->taken = 0;
  pthread_mutex_unlock(&parking->lock);
  if (!was_parked) {
    napi_throw_error(env, NULL, "unpark(): this entry is not parked");
    return NULL;
  }
  napi_value result;
  napi_get_boolean(env, kept, &result);
  return result;
}

// closeParking(parking): stops the thread; idempotent.
static napi_value close_parking(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  parking_t *parking = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      !(parking = parking_arg(env, argv[0]))) {
    napi_throw_type_error(env, NULL, "closeParking(parking)");
    return NULL;
  }
  stop_thread(parking);
  return NULL;
}

int poold_register_parking(napi_env env, napi_value exports) {
  return poold_export(env, exports, "openParking", open_parking) && poold_export(env, exports, "park", park) &&
         poold_export(env, exports, "unpark", unpark) && poold_export(env, exports, "closeParking", close_parking);
}
