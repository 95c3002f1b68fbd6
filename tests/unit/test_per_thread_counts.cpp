// The per-thread counter blocks (per_thread_counts.h): threads counting at
// once lose no count, and a thread that exits leaves its block, with its
// counts, to the next thread that counts.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "per_thread_counts.h"

namespace ctab = sd::ctab;

namespace {

constexpr uint32_t kCall = 5;
const uint32_t kKey = ctab::count_key(7, 0, 11, sd::Level::debug);

// What the library does for one count: this thread's lane, claimed on first
// use; false without one. No Catch assertion here: they are not safe from
// several threads at once (ThreadSanitizer reports Catch's own race).
bool count(uint32_t n) {
  ctab::Lane* l = sd::t_lane ? sd::t_lane : sd::lane_claim(0);
  if (!l) return false;
  for (uint32_t i = 0; i < n; ++i) {
    sd::lane_add(l->expected_eagain[kCall], 1);
    sd::lane_add(ctab::entry(l->counts, ctab::kLaneEntries, kKey)->count, 1);
  }
  return true;
}

// The sums over every lane this process handed out: the summary's.
std::pair<uint64_t, uint64_t> totals() {
  uint32_t n;
  const ctab::Lane* lanes = sd::private_lanes(&n);
  uint64_t eagain = 0, keyed = 0;
  for (uint32_t i = 0; i < n; ++i)
    ctab::for_each_row(lanes[i], [&](uint32_t key, uint32_t c, uint32_t) {
      if (key == ctab::expected_eagain_key(kCall)) eagain += c;
      if (key == kKey) keyed += c;
    });
  return {eagain, keyed};
}

}  // namespace

TEST_CASE("per-thread counts add up exactly, and an exited thread's lane is reused", "[summary]") {
  sd::lanes_after_fork();  // as a new process: no lane handed out yet
  sd::lanes_prepare();
  auto [eagain0, keyed0] = totals();
  REQUIRE(eagain0 == 0);
  REQUIRE(keyed0 == 0);

  constexpr int kThreads = 8;
  constexpr uint32_t kCounts = 100000;
  std::vector<const ctab::Lane*> used(kThreads);
  std::vector<char> had_lane(kThreads, 0);
  std::atomic<int> claimed{0}, counted{0};
  auto wait_for = [](std::atomic<int>& n) {
    while (n.load() < kThreads) std::this_thread::yield();
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      // All holding a lane at once (none has exited to leave one), and
      // counting at the same time.
      had_lane[t] = count(1);
      used[t] = sd::t_lane;
      ++claimed;
      wait_for(claimed);
      had_lane[t] = had_lane[t] && count(kCounts - 1);
      ++counted;
      wait_for(counted);
    });
  for (auto& th : threads) th.join();
  for (char had : had_lane) CHECK(had);
  for (int a = 0; a < kThreads; ++a)
    for (int b = a + 1; b < kThreads; ++b) CHECK(used[a] != used[b]);
  auto [eagain, keyed] = totals();
  CHECK(eagain == uint64_t{kThreads} * kCounts);
  CHECK(keyed == uint64_t{kThreads} * kCounts);

  // The threads have exited: a new one takes one of their lanes, and its
  // counts add to the ones there.
  const ctab::Lane* reused = nullptr;
  bool reused_had_lane = false;
  std::thread([&] {
    reused_had_lane = count(7);
    reused = sd::t_lane;
  }).join();
  CHECK(reused_had_lane);
  bool found = false;
  for (const ctab::Lane* l : used) found = found || l == reused;
  CHECK(found);
  uint32_t handed_out;
  sd::private_lanes(&handed_out);
  CHECK(handed_out == kThreads);
  auto [eagain2, keyed2] = totals();
  CHECK(eagain2 == uint64_t{kThreads} * kCounts + 7);
  CHECK(keyed2 == uint64_t{kThreads} * kCounts + 7);

  // A forked child starts from nothing: its parent's counts are not its own.
  sd::lanes_after_fork();
  auto [eagain3, keyed3] = totals();
  CHECK(eagain3 == 0);
  CHECK(keyed3 == 0);
}
