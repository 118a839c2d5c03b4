// ThreadPool: a job is an index range with an atomic cursor. run() queues one ticket per
// helper it wants, then claims indices itself; a worker holding a ticket claims indices
// until the range is exhausted. The caller then waits only for indices already claimed
// by workers, so a ticket picked up late (after the range ran out) costs nothing.
#include "engine/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>

namespace spdinfer {
namespace {

// Upper bound on workers, whatever a caller asks for: more threads than this would only
// oversubscribe any machine the engine runs on.
constexpr int kMaxWorkers = 255;

// How long an idle worker, or a caller waiting for its job's last indices, spins before it
// blocks. Long enough to span the gap between two layers of a network; short enough that on a
// machine with more runnable threads than cores it steals little.
constexpr auto kSpin = std::chrono::microseconds(50);

// Spins until done() or kSpin has passed; returns done().
template <typename Done>
bool spin_until(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (done()) return true;
    __builtin_ia32_pause();
    if (i % 64 == 63 && std::chrono::steady_clock::now() > deadline) return done();
  }
}

// Set on the pool's own threads, so that a parallel_for inside a job runs inline instead of
// queueing behind the job that is waiting for it.
thread_local bool in_worker = false;

}  // namespace

struct ThreadPool::Job {
  const std::function<void(int64_t)>* fn;
  int64_t n;
  std::atomic<int64_t> next{0};      // the next unclaimed index
  std::atomic<int64_t> finished{0};  // indices whose fn returned
  std::mutex mutex;
  std::condition_variable all_done;
};

ThreadPool& ThreadPool::instance() {
  static ThreadPool pool;
  return pool;
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

int ThreadPool::worker_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(workers_.size());
}

void ThreadPool::ensure_workers(int count) {
  // Called with mutex_ held.
  count = std::min(count, kMaxWorkers);
  while (static_cast<int>(workers_.size()) < count) workers_.emplace_back([this] { worker_loop(); });
}

void ThreadPool::work_on(Job& job) {
  int64_t done_here = 0;
  for (int64_t i = job.next.fetch_add(1); i < job.n; i = job.next.fetch_add(1)) {
    (*job.fn)(i);
    ++done_here;
  }
  if (done_here == 0) return;
  if (job.finished.fetch_add(done_here) + done_here == job.n) {
    // The lock orders this notify after the waiter's check of `finished`.
    std::lock_guard<std::mutex> lock(job.mutex);
    job.all_done.notify_all();
  }
}

void ThreadPool::worker_loop() {
  in_worker = true;
  for (;;) {
    spin_until([this] { return queued_.load(std::memory_order_acquire) > 0; });
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      queued_.store(static_cast<int64_t>(queue_.size()), std::memory_order_release);
    }
    work_on(*job);
  }
}

void ThreadPool::run(int64_t n, int threads, const std::function<void(int64_t)>& fn) {
  const int64_t helpers = std::min<int64_t>(threads, n) - 1;
  if (helpers <= 0 || in_worker) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  auto job = std::make_shared<Job>();
  job->fn = &fn;
  job->n = n;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ensure_workers(static_cast<int>(helpers));
    for (int64_t h = 0; h < helpers; ++h) queue_.push_back(job);
    queued_.store(static_cast<int64_t>(queue_.size()), std::memory_order_release);
  }
  if (helpers == 1) {
    wake_.notify_one();
  } else {
    wake_.notify_all();
  }
  work_on(*job);
  if (spin_until([&] { return job->finished.load() == job->n; })) return;
  std::unique_lock<std::mutex> lock(job->mutex);
  job->all_done.wait(lock, [&] { return job->finished.load() == job->n; });
  // Tickets of this job still queued find the range exhausted; `fn` is not touched again
  // because work_on claims an index before calling it.
}

}  // namespace spdinfer
