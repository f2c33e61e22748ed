/* gguf_write.h - GGUF v3 writer (gguf_write.c), for make-model, quantize and training
 * checkpoints. */
#ifndef LC_GGUF_WRITE_H
#define LC_GGUF_WRITE_H

#include "internal.h"

typedef struct lc_gguf_writer lc_gguf_writer;
/* fills rows [row0, row0 + n_rows) of tensor ti (rows of ne[0] elements, encoded) into dst */
typedef int (*lc_gguf_fill_fn)(void *ud, int ti, int64_t row0, int64_t n_rows, void *dst);
typedef void (*lc_progress_fn)(void *ud, double fraction);

int lc_gguf_writer_new(lc_gguf_writer **out);
void lc_gguf_writer_free(lc_gguf_writer *w);
int lc_gguf_set_u32(lc_gguf_writer *w, const char *key, uint32_t v);
int lc_gguf_set_i32(lc_gguf_writer *w, const char *key, int32_t v);
int lc_gguf_set_u64(lc_gguf_writer *w, const char *key, uint64_t v);
int lc_gguf_set_f32(lc_gguf_writer *w, const char *key, float v);
int lc_gguf_set_bool(lc_gguf_writer *w, const char *key, bool v);
int lc_gguf_set_str(lc_gguf_writer *w, const char *key, const char *s, size_t len);
/* numeric arrays (LC_GGUF_* element type, little-endian elements) */
int lc_gguf_set_arr(lc_gguf_writer *w, const char *key, uint32_t elem_type, const void *elems, uint64_t n);
int lc_gguf_set_arr_str(lc_gguf_writer *w, const char *key, const lc_str *s, uint64_t n);
/* a key/value read by lc_gguf_open, copied verbatim */
int lc_gguf_copy_kv(lc_gguf_writer *w, const lc_gguf_kv *kv);
/* tensors in file order; ne in ggml order */
int lc_gguf_add_tensor(lc_gguf_writer *w, const char *name, int type, int n_dims, const int64_t *ne);
/* writes path.tmp, then renames it to path */
int lc_gguf_write(lc_gguf_writer *w, const char *path, lc_gguf_fill_fn fill, void *ud, lc_progress_fn progress,
                  void *pud);

#endif
