/* bpe_train.h - training a Llama-3-style byte-level BPE tokenizer (bpe_train.c):
 * the Llama 3 pre-tokenizer, 256 byte tokens, learned merges, then the 256 Llama 3.1
 * special tokens; written as a Hugging Face tokenizer.json that lc_tok_load reads. */
#ifndef LC_BPE_TRAIN_H
#define LC_BPE_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#define LC_BPE_MAX_VOCAB (1 << 20)   /* BPE tokens (bytes + merges), specials not counted */
#define LC_BPE_N_SPECIAL 256

/* called now and then while merging: done of total BPE tokens learned (total = vocab_size) */
typedef void (*lc_bpe_progress_fn)(void *ud, int done, int total);

typedef struct lc_bpe_stats {
    int64_t n_bytes;       /* corpus bytes */
    int64_t n_pieces;      /* pre-tokenizer pieces */
    int64_t n_words;       /* distinct pieces */
    int n_merges;          /* merges written (>= vocab_size - 256: a merge may rebuild a known token) */
    double seconds;
} lc_bpe_stats;

/* Learns vocab_size BPE tokens (256 byte tokens, ids 0..255 in byte order, + learned
 * tokens) from the UTF-8 text files, appends the 256 Llama 3.1 special tokens at ids
 * vocab_size..vocab_size+255 and writes out_json (via out_json.tmp + rename).
 * Deterministic: the same files and size give the same file. Errors: unreadable file
 * (LC_ERR_IO), empty corpus or invalid UTF-8 (LC_ERR_FORMAT, with file and byte offset),
 * vocab_size out of [256, LC_BPE_MAX_VOCAB] or larger than the corpus allows (LC_ERR_ARG).
 * cb and stats may be NULL. */
int lc_bpe_train(const char *const *files, int n_files, int vocab_size, const char *out_json,
                 lc_bpe_progress_fn cb, void *ud, lc_bpe_stats *stats);

/* name of special token k (0..255) as in Llama 3.1's Hugging Face files */
void lc_bpe_special_name(int k, char *buf, size_t cap);

#endif
