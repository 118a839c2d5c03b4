// ThreadPool / parallel_for: every index runs exactly once, whatever the thread count, with
// concurrent callers and with nested loops.
#include <atomic>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "engine/parallel.h"
#include "engine/thread_pool.h"

using spdinfer::parallel_for;
using spdinfer::ThreadPool;

namespace {

// parallel_for(n, threads) over counters; returns how often each index ran.
std::vector<int> run_counts(int64_t n, int threads) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  parallel_for(n, threads, [&](int64_t i) { hits[static_cast<size_t>(i)].fetch_add(1); });
  std::vector<int> counts;
  for (auto& h : hits) counts.push_back(h.load());
  return counts;
}

}  // namespace

TEST_CASE("parallel_for runs every index exactly once", "[thread_pool]") {
  for (int threads : {1, 2, 3, 8}) {
    for (int64_t n : {0, 1, 2, 5, 7, 64, 1000, 100003}) {
      CAPTURE(threads, n);
      const std::vector<int> counts = run_counts(n, threads);
      REQUIRE(counts == std::vector<int>(static_cast<size_t>(n), 1));
    }
  }
}

TEST_CASE("parallel_for uses the pool's workers for threads > 1", "[thread_pool]") {
  std::atomic<int> on_caller{0}, elsewhere{0};
  const auto caller = std::this_thread::get_id();
  // Slow items, so the worker surely wakes and claims some before the caller is through.
  parallel_for(64, 2, [&](int64_t) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    (std::this_thread::get_id() == caller ? on_caller : elsewhere).fetch_add(1);
  });
  REQUIRE(on_caller + elsewhere == 64);
  REQUIRE(elsewhere > 0);
  REQUIRE(ThreadPool::instance().worker_count() >= 1);
}

TEST_CASE("parallel_for from several threads at once", "[thread_pool]") {
  constexpr int kCallers = 4;
  std::vector<std::vector<int>> results(kCallers);
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c)
    callers.emplace_back([&, c] {
      for (int repeat = 0; repeat < 50; ++repeat) {
        const std::vector<int> counts = run_counts(997, 3);
        if (counts != std::vector<int>(997, 1)) {
          results[static_cast<size_t>(c)] = counts;
          return;
        }
      }
    });
  for (std::thread& t : callers) t.join();
  for (const auto& r : results) REQUIRE(r.empty());
}

TEST_CASE("a parallel_for inside a parallel_for runs every inner index once", "[thread_pool]") {
  constexpr int64_t kOuter = 16, kInner = 33;
  std::vector<std::atomic<int>> hits(kOuter * kInner);
  parallel_for(kOuter, 2, [&](int64_t o) {
    parallel_for(kInner, 2, [&](int64_t i) { hits[static_cast<size_t>(o * kInner + i)].fetch_add(1); });
  });
  for (auto& h : hits) REQUIRE(h.load() == 1);
}
