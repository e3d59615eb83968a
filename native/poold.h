// poold's native helper: the few system calls Node does not offer.
#ifndef POOLD_H
#define POOLD_H
#include <node_api.h>

/** Throws a JS Error for `err` (an errno), with `code` set to its name, e.g. "EAGAIN". */
void poold_throw_errno(napi_env env, const char *call, int err);
/** Adds `fn` to `exports` as `name`; false when Node-API failed (an exception is then pending). */
int poold_export(napi_env env, napi_value exports, const char *name, napi_callback fn);
/** `data` as a JS external tagged with `tag`, freed by `finalize`; NULL when none could be made (`data` is still the caller's). */
napi_value poold_tagged_external(napi_env env, void *data, napi_finalize finalize, const napi_type_tag *tag);
/** The data of an external tagged with `tag`; NULL for anything else (another helper object passed by mistake included). */
void *poold_external_arg(napi_env env, napi_value value, const napi_type_tag *tag);

int poold_register_map(napi_env env, napi_value exports);
int poold_register_channel(napi_env env, napi_value exports);
int poold_register_listener(napi_env env, napi_value exports);
int poold_register_limits(napi_env env, napi_value exports);
int poold_register_parking(napi_env env, napi_value exports);
#endif
