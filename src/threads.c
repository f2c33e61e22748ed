/* threads.c - a fixed thread pool: lc_pool_run() hands one function to every thread and
 * waits for all of them. Workers spin briefly on the generation counter before sleeping,
 * so the many small operations of one token do not pay a futex wake-up each. */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>

#define SPIN_ROUNDS 100000   /* with a pause each: ~0.5-1 ms before a worker sleeps */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

struct lc_pool {
    int n;                        /* threads including the caller */
    pthread_t *tid;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    atomic_int generation;        /* bumped for each run */
    atomic_int pending;           /* workers still busy with this run */
    lc_task_fn fn;
    void *arg;
    atomic_int quit;
};

typedef struct { lc_pool *p; int ith; } worker_arg;

static void *worker(void *varg) {
    worker_arg *wa = varg;
    lc_pool *p = wa->p;
    int ith = wa->ith, seen = 0;
    free(wa);
    for (;;) {
        int gen;
        int spins = 0;
        while ((gen = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
               !atomic_load(&p->quit) && spins < SPIN_ROUNDS) {
            spins++;
            cpu_relax();
        }
        if (gen == seen && !atomic_load(&p->quit)) {
            pthread_mutex_lock(&p->mu);
            while ((gen = atomic_load(&p->generation)) == seen && !atomic_load(&p->quit))
                pthread_cond_wait(&p->cv_work, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->quit)) return NULL;
        seen = gen;
        p->fn(p->arg, ith, p->n);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->cv_done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

int lc_pool_new(int n_threads, lc_pool **out) {
    *out = NULL;
    if (n_threads <= 0) n_threads = lc_n_cores();
    if (n_threads > 512) return lc_fail(LC_ERR_ARG, "too many threads (%d)", n_threads);
    lc_pool *p = calloc(1, sizeof *p);
    if (!p) return lc_fail(LC_ERR_NOMEM, "thread pool: no memory");
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    p->tid = calloc((size_t)n_threads, sizeof *p->tid);
    if (!p->tid) {
        lc_pool_free(p);
        return lc_fail(LC_ERR_NOMEM, "thread pool: no memory");
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa) {
            p->n = i;
            lc_pool_free(p);
            return lc_fail(LC_ERR_NOMEM, "thread pool: no memory");
        }
        wa->p = p;
        wa->ith = i;
        if (pthread_create(&p->tid[i], NULL, worker, wa) != 0) {
            free(wa);
            p->n = i;
            lc_pool_free(p);
            return lc_fail(LC_ERR_NOMEM, "thread pool: cannot start thread %d", i);
        }
    }
    *out = p;
    return LC_OK;
}

void lc_pool_free(lc_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, 1);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++)
        if (p->tid) pthread_join(p->tid[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_done);
    free(p->tid);
    free(p);
}

int lc_pool_n(const lc_pool *p) { return p ? p->n : 1; }

void lc_pool_run(lc_pool *p, lc_task_fn fn, void *arg) {
    if (!p || p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store(&p->pending, p->n - 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    fn(arg, 0, p->n);
    int spins = 0;
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0 && spins < SPIN_ROUNDS) {
        spins++;
        cpu_relax();
    }
    if (atomic_load(&p->pending) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->cv_done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
