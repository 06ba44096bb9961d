/*
 * coldseal.h -- the public C API of the coldseal core.
 *
 * This one header is both compiled and fed to cffi: build_ext.py slices the
 * region between the cffi:begin and cffi:end markers into ffi.cdef(), so that
 * region holds only plain prototypes, integer #defines, enums with explicit
 * values and opaque typedefs. Includes and guards stay outside it.
 *
 * Threading contract: there is no global mutable state apart from the CPU
 * feature cache of the BLAKE3 dispatcher, which is a single atomic written
 * with the same value by whichever thread gets there first. A context
 * (cs_blake3, cs_aead, cs_zstd, cs_chunk_ctx) is used by one thread at a
 * time; distinct contexts are independent, so N threads with N contexts run
 * with no locks. Every function is safe to call with the GIL released.
 *
 * Buffers: if a caller mutates an input buffer while a call reads it, the
 * result is some hash / ciphertext of some mixture of old and new bytes; the
 * core never reads outside the lengths it is given and never crashes, but the
 * answer is meaningless. Callers hand over buffers they do not touch during
 * the call.
 *
 * Status codes: values are stable and part of the ABI; new codes are added at
 * the end. Never rely on CS_ERR__MAX staying where it is.
 */
#ifndef COLDSEAL_H
#define COLDSEAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* cffi:begin */

/* ---- sizes, limits and format constants ------------------------------ */
#define CS_KEY_LEN 32            /* AES-256 key, BLAKE3 key */
#define CS_NONCE_LEN 12          /* AES-GCM nonce */
#define CS_TAG_LEN 16            /* AES-GCM tag */
#define CS_HASH_LEN 32           /* BLAKE3 default output, Merkle hashes */
#define CS_ARCHIVE_ID_LEN 16     /* random archive id bound into every chunk */
#define CS_AAD_LEN 32            /* archive id (16) | index (u64 LE) | plain length (u64 LE) */
#define CS_MIN_CHUNK 4096        /* smallest configurable plaintext chunk */
#define CS_MAX_CHUNK 16777216    /* largest configurable plaintext chunk (16 MiB) */
#define CS_MAX_THREADS 256       /* upper bound for cs_open_chunks */
#define CS_MAX_LEAVES 268435456  /* 2^28 chunks per archive */
#define CS_B3_BLOCK_LEN 64
#define CS_B3_CHUNK_LEN 1024

/* ---- status ---------------------------------------------------------- */
typedef enum {
    CS_OK = 0,
    CS_ERR_AUTH = 1,        /* a leaf, tag or proof did not match: tampered or wrong key */
    CS_ERR_CORRUPT = 2,     /* authenticated data that does not decode (bad zstd frame) */
    CS_ERR_LIMIT = 3,       /* a length outside its bound (over-long decompression, chunk too big) */
    CS_ERR_NOMEM = 4,       /* an allocation failed (only at context creation) */
    CS_ERR_CRYPTO = 5,      /* libcrypto failed for a reason other than a bad tag */
    CS_ERR_ARG = 6,         /* a caller error: NULL pointer, bad length, unknown mode */
    CS_ERR_UNSUPPORTED = 7, /* a BLAKE3 tier that is not compiled in or not on this CPU */
    CS_ERR_COMPRESS = 8,    /* libzstd refused to compress */
    CS_ERR_THREAD = 9,      /* a worker thread could not be started */
    CS_ERR__MAX = 10
} cs_status;

/** cs_strerror() : a static, human-readable description of a status. Never NULL. */
const char *cs_strerror(int status);

/** cs_version() : the core's version string, checked by the Python layer at import. */
const char *cs_version(void);

/* ---- BLAKE3 ----------------------------------------------------------
 * Written from the BLAKE3 specification. Tiers are implementations of the
 * same function; the fastest one the CPU supports is chosen once at run
 * time, and any available tier may be forced per hasher (tests do so). */
typedef enum {
    CS_B3_TIER_BEST = -1,
    CS_B3_TIER_PORTABLE = 0,
    CS_B3_TIER_SSE41 = 1,
    CS_B3_TIER_AVX2 = 2,
    CS_B3_TIER_AVX512 = 3
} cs_b3_tier;

typedef enum {
    CS_B3_MODE_HASH = 0,
    CS_B3_MODE_KEYED = 1,       /* key: CS_KEY_LEN bytes */
    CS_B3_MODE_DERIVE_KEY = 2   /* key: the context string, any length */
} cs_b3_mode;

typedef struct cs_blake3 cs_blake3;

/** cs_b3_tier_available() : 1 if the tier is compiled in and this CPU runs it, else 0. */
int cs_b3_tier_available(int tier);

/** cs_b3_best_tier() : the tier CS_B3_TIER_BEST resolves to on this CPU. */
int cs_b3_best_tier(void);

/** cs_blake3_new() : allocate a hasher for `tier` and initialise it in `mode`.
 * @return CS_OK, CS_ERR_UNSUPPORTED for an unavailable tier, CS_ERR_ARG for a
 * bad mode or key length, CS_ERR_NOMEM. *out is NULL on failure. */
int cs_blake3_new(int tier, int mode, const uint8_t *key, size_t key_len, cs_blake3 **out);

/** cs_blake3_free() : wipe and release a hasher (NULL is a no-op). */
void cs_blake3_free(cs_blake3 *h);

/** cs_blake3_reset() : back to the state right after cs_blake3_new(), same mode and key. */
void cs_blake3_reset(cs_blake3 *h);

/** cs_blake3_update() : absorb `len` bytes. Any split of the input gives the same hash. */
void cs_blake3_update(cs_blake3 *h, const uint8_t *input, size_t len);

/** cs_blake3_finalize() : write `out_len` bytes of output starting at byte `seek`
 * of the extendable output. Does not modify the hasher: more input may follow. */
void cs_blake3_finalize(const cs_blake3 *h, uint64_t seek, uint8_t *out, size_t out_len);

/** cs_blake3_hash() : one-shot hash of `input` in `mode` (see cs_blake3_new()),
 * on the stack, no allocation. @return CS_OK, CS_ERR_UNSUPPORTED, CS_ERR_ARG. */
int cs_blake3_hash(int tier, int mode, const uint8_t *key, size_t key_len,
                   const uint8_t *input, size_t len, uint8_t *out, size_t out_len);

/* ---- AES-256-GCM (OpenSSL libcrypto EVP) ------------------------------ */
typedef struct cs_aead cs_aead;

/** cs_aead_new() : a context keyed once with a CS_KEY_LEN key; reuse it for
 * many messages from one thread. The key schedule lives inside libcrypto and
 * is cleansed by cs_aead_free(). @return CS_OK, CS_ERR_NOMEM, CS_ERR_CRYPTO. */
int cs_aead_new(const uint8_t *key, cs_aead **out);

/** cs_aead_free() : cleanse and release (NULL is a no-op). */
void cs_aead_free(cs_aead *ctx);

/** cs_aead_seal() : encrypt `len` bytes of `pt` into `ct` (same length, may
 * alias `pt`) and write the CS_TAG_LEN tag. @return CS_OK or CS_ERR_CRYPTO. */
int cs_aead_seal(cs_aead *ctx, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                 const uint8_t *pt, size_t len, uint8_t *ct, uint8_t *tag);

/** cs_aead_open() : decrypt and authenticate. @return CS_OK, CS_ERR_AUTH on a
 * bad tag (OpenSSL's error queue is left empty), CS_ERR_CRYPTO. On failure
 * `pt` is zeroed. */
int cs_aead_open(cs_aead *ctx, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                 const uint8_t *ct, size_t len, const uint8_t *tag, uint8_t *pt);

/* ---- zstd (libzstd) --------------------------------------------------- */
typedef struct cs_zstd cs_zstd;

/** cs_zstd_new() : reusable compression and decompression contexts; `level`
 * is a zstd level (1..22, or negative for the fast levels). */
int cs_zstd_new(int level, cs_zstd **out);
void cs_zstd_free(cs_zstd *z);

/** cs_zstd_bound() : worst-case compressed size of `len` bytes. */
size_t cs_zstd_bound(size_t len);

/** cs_zstd_compress() : one zstd frame with its content size recorded.
 * @return CS_OK, CS_ERR_LIMIT if `cap` is too small, CS_ERR_COMPRESS. */
int cs_zstd_compress(cs_zstd *z, const uint8_t *src, size_t len,
                     uint8_t *dst, size_t cap, size_t *out_len);

/** cs_zstd_decompress() : decode one frame that must expand to exactly
 * `expected_len` bytes into `dst`; never writes past it. @return CS_OK,
 * CS_ERR_LIMIT if the frame declares or produces more, CS_ERR_CORRUPT for a
 * malformed frame, trailing bytes or a short result. `dst` is zeroed on failure. */
int cs_zstd_decompress(cs_zstd *z, const uint8_t *src, size_t len,
                       uint8_t *dst, size_t expected_len);

/* ---- Merkle tree -------------------------------------------------------
 * leaf(i)  = BLAKE3 derive_key("coldseal v1 chunk leaf", sealed_i || u64le(i))
 * node     = BLAKE3 derive_key("coldseal v1 tree node",  left || right)
 * root(0)  = BLAKE3 derive_key("coldseal v1 empty tree", "")
 * root(1)  = leaf(0); root(n) = node(root(left k), root(right n-k)) where k is
 * the largest power of two below n. A proof lists sibling hashes from the
 * leaf up to the root. */

/** cs_merkle_leaf() : the leaf of sealed chunk `index` (ciphertext || tag). */
int cs_merkle_leaf(uint64_t index, const uint8_t *sealed, size_t len, uint8_t *out);

/** cs_merkle_node() : the parent of two 32-byte hashes. */
int cs_merkle_node(const uint8_t *left, const uint8_t *right, uint8_t *out);

/** cs_merkle_tree_len() : hashes in every row of a tree of `n` leaves, leaves to root. */
uint64_t cs_merkle_tree_len(uint64_t n);

/** cs_merkle_tree() : write every row of the tree, leaves first and the root
 * last, into `tree` (cs_merkle_tree_len(n) hashes). `tree` may not overlap
 * `leaves` except by being the same pointer. @return CS_OK, CS_ERR_ARG, CS_ERR_LIMIT. */
int cs_merkle_tree(const uint8_t *leaves, uint64_t n, uint8_t *tree);

/** cs_merkle_root() : the root over `n` consecutive 32-byte leaves. Uses a
 * scratch area of n/2 hashes allocated once. @return CS_OK or CS_ERR_NOMEM. */
int cs_merkle_root(const uint8_t *leaves, uint64_t n, uint8_t *out);

/** cs_merkle_proof_len() : number of sibling hashes in the proof of `index` in a tree of `n`. */
uint64_t cs_merkle_proof_len(uint64_t index, uint64_t n);

/** cs_merkle_proof() : write the proof of `index` (cs_merkle_proof_len() hashes) into
 * `proof`, which holds `cap` hashes. @return CS_OK, CS_ERR_ARG, CS_ERR_LIMIT, CS_ERR_NOMEM. */
int cs_merkle_proof(const uint8_t *leaves, uint64_t n, uint64_t index,
                    uint8_t *proof, uint64_t cap);

/** cs_merkle_verify() : check that `leaf` sits at `index` of a tree of `n` leaves
 * with root `root`, given `count` sibling hashes. Constant-time comparison.
 * @return CS_OK, CS_ERR_AUTH on mismatch, CS_ERR_ARG if `count` is not the
 * proof length for (index, n). */
int cs_merkle_verify(const uint8_t *leaf, uint64_t index, uint64_t n,
                     const uint8_t *proof, uint64_t count, const uint8_t *root);

/* ---- fused chunk operations -------------------------------------------
 * Chunk i of an archive is sealed as
 *   body = zstd(plain) if that is shorter than plain, else plain (stored)
 *   sealed = AES-256-GCM(DEK, nonce = u64le(i) || 00000000, aad, body) || tag
 *   aad = archive_id || u64le(i) || u64le(plain_len)
 * so a chunk is stored exactly when len(sealed) == plain_len + CS_TAG_LEN. */
typedef struct cs_chunk_ctx cs_chunk_ctx;

/** cs_chunk_ctx_new() : per-thread state for sealing and opening the chunks
 * of one archive: the DEK's key schedule, zstd contexts, and scratch space
 * for chunks up to `max_chunk` plaintext bytes. `level` is the zstd level
 * used by cs_seal_chunk(). All allocation happens here. @return CS_OK,
 * CS_ERR_ARG, CS_ERR_LIMIT (max_chunk out of bounds), CS_ERR_NOMEM, CS_ERR_CRYPTO. */
int cs_chunk_ctx_new(const uint8_t *dek, const uint8_t *archive_id, size_t max_chunk,
                     int level, cs_chunk_ctx **out);

/** cs_chunk_ctx_free() : cleanse keys and scratch, release (NULL is a no-op). */
void cs_chunk_ctx_free(cs_chunk_ctx *ctx);

/** cs_sealed_bound() : the largest sealed size a chunk of `plain_len` can have. */
size_t cs_sealed_bound(size_t plain_len);

/** cs_seal_chunk() : compress (or store) -> encrypt -> leaf. Writes the sealed
 * chunk into `sealed` (capacity `cap`, at least cs_sealed_bound(plain_len)),
 * its length into *sealed_len and its leaf into `leaf`. @return CS_OK,
 * CS_ERR_LIMIT, CS_ERR_COMPRESS, CS_ERR_CRYPTO. */
int cs_seal_chunk(cs_chunk_ctx *ctx, uint64_t index, const uint8_t *plain, size_t plain_len,
                  uint8_t *sealed, size_t cap, size_t *sealed_len, uint8_t *leaf);

/** cs_open_chunk() : check the leaf of (sealed, index) against `leaf` in
 * constant time -> AES-GCM open -> decompress into `out`, which receives
 * exactly `plain_len` bytes. Nothing is allocated. @return CS_OK; CS_ERR_AUTH
 * for a leaf or tag mismatch (tamper, wrong index, wrong key); CS_ERR_LIMIT
 * for a sealed length or decompressed size out of bounds; CS_ERR_CORRUPT for
 * an undecodable body. On any failure `out` is zeroed, except when plain_len
 * itself is 0 or above max_chunk (CS_ERR_LIMIT, `out` untouched).
 * Thread-safety: one thread per ctx. */
int cs_open_chunk(cs_chunk_ctx *ctx, uint64_t index, const uint8_t *sealed, size_t sealed_len,
                  const uint8_t *leaf, uint8_t *out, size_t plain_len);

/** One chunk of a cs_open_chunks() batch; `status` is written by the core. */
typedef struct {
    uint64_t index;
    const uint8_t *sealed;
    size_t sealed_len;
    const uint8_t *leaf;
    uint8_t *out;
    size_t plain_len;
    int status;
} cs_open_job;

/** cs_open_chunks() : open `n` chunks on `threads` worker threads (1 runs on
 * the calling thread), each with its own context. Every job gets its own
 * status; outputs of failed jobs are zeroed. @return CS_OK when every job
 * succeeded, else the status of the failed job with the lowest position, or
 * CS_ERR_ARG / CS_ERR_NOMEM / CS_ERR_THREAD for the batch as a whole. */
int cs_open_chunks(const uint8_t *dek, const uint8_t *archive_id, size_t max_chunk,
                   cs_open_job *jobs, size_t n, unsigned threads);

/* ---- protected key memory ---------------------------------------------
 * KEKs and data keys live in cs_secret buffers: each in a private anonymous
 * mapping of its own, locked in RAM (mlock) so it is never written to swap,
 * excluded from core dumps (MADV_DONTDUMP) and zeroed in a child after fork
 * (MADV_WIPEONFORK on the key's pages only: a child can still free its copy),
 * then cleansed and unmapped by cs_secret_free(). Each protection is best
 * effort and reported in cs_secret_flags(), not as an error: mlock fails
 * under a small RLIMIT_MEMLOCK, and refusing to run would be worse than
 * running unlocked. A caller that requires a protection checks the flags. */
#define CS_SECRET_MAX 4096        /* largest secret buffer */
#define CS_SECRET_LOCKED 1        /* mlock succeeded */
#define CS_SECRET_NODUMP 2        /* MADV_DONTDUMP succeeded */
#define CS_SECRET_WIPEONFORK 4    /* MADV_WIPEONFORK succeeded */
typedef struct cs_secret cs_secret;

/** cs_secret_new() : `len` (1..CS_SECRET_MAX) zeroed bytes of protected
 * memory. @return CS_OK, CS_ERR_ARG, CS_ERR_NOMEM. *out is NULL on failure. */
int cs_secret_new(size_t len, cs_secret **out);

/** cs_secret_data() : the buffer, valid until cs_secret_free(). */
uint8_t *cs_secret_data(cs_secret *s);

/** cs_secret_len() : the length given to cs_secret_new(). */
size_t cs_secret_len(const cs_secret *s);

/** cs_secret_flags() : which protections are in force (CS_SECRET_* bits). */
int cs_secret_flags(const cs_secret *s);

/** cs_secret_random() : fill the whole buffer from the CSPRNG (RAND_bytes).
 * @return CS_OK or CS_ERR_CRYPTO (the buffer is then zeroed). */
int cs_secret_random(cs_secret *s);

/** cs_secret_equal() : 1 if both secrets have the same length and bytes,
 * compared in constant time; else 0. */
int cs_secret_equal(const cs_secret *a, const cs_secret *b);

/** cs_secret_free() : cleanse, unlock and unmap (NULL is a no-op). */
void cs_secret_free(cs_secret *s);

/* cffi:end */

#ifdef __cplusplus
}
#endif

#endif /* COLDSEAL_H */
