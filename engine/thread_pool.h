// The engine's worker threads: a process-wide pool that runs the index ranges of
// parallel_for (engine/parallel.h).
//
// Why not OpenMP: libgomp's idle threads spin for a while before they sleep, and on a
// machine with more runnable threads than cores (a shared server, ctest -j, two engines side
// by side) that spinning steals the cores the working threads need: a 2-thread run measured
// up to 18x slower than a 1-thread one. Here idle workers spin for at most kSpinMicroseconds
// (a network's next layer usually comes sooner: waking a sleeping thread costs more than many
// small layers take) and then block on a condition variable; and a caller never waits for a
// worker that has not started: it claims indices itself, so a job finishes even when every
// worker is busy elsewhere.
//
// Several threads may call run() at once (concurrent forwards of one graph); their jobs
// share the workers. A call from inside a job (nested parallelism) runs inline.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace spdinfer {

class ThreadPool {
 public:
  // The pool every parallel_for uses. Workers are started on first need and live until exit.
  static ThreadPool& instance();

  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Calls fn(i) for every i in [0, n) on the calling thread and up to threads - 1 workers,
  // and returns when all calls have returned. Indices are claimed one at a time, so fn must
  // not depend on which thread runs it. fn must not throw.
  void run(int64_t n, int threads, const std::function<void(int64_t)>& fn);

  // Workers started so far (for tests).
  int worker_count() const;

 private:
  struct Job;
  ThreadPool() = default;
  void ensure_workers(int count);
  void worker_loop();
  static void work_on(Job& job);
  bool spin_until_queued() const;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<int64_t> queued_{0};  // queue_.size(), readable without the mutex while spinning
  std::deque<std::shared_ptr<Job>> queue_;  // one entry per worker a job asks for
  std::vector<std::thread> workers_;
  bool stopping_ = false;
};

}  // namespace spdinfer
