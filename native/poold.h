// poold's native helper: the few system calls Node does not offer.
#ifndef POOLD_H
#define POOLD_H
#include <node_api.h>

/** Throws a JS Error for `err` (an errno), with `code` set to its name, e.g. "EAGAIN". */
void poold_throw_errno(napi_env env, const char *call, int err);
/** Adds `fn` to `exports` as `name`; false when Node-API failed (an exception is then pending). */
int poold_export(napi_env env, napi_value exports, const char *name, napi_callback fn);

int poold_register_map(napi_env env, napi_value exports);
int poold_register_channel(napi_env env, napi_value exports);
int poold_register_listener(napi_env env, napi_value exports);
int poold_register_limits(napi_env env, napi_value exports);
int poold_register_parking(napi_env env, napi_value exports);
#endif
