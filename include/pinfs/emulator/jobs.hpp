// Moves pin-by-CID jobs through their statuses in the background: a CID whose whole DAG the
// emulator holds is pinned (the pin takes the job's id); an unknown one stays `searching` and
// becomes `expired` after --job-expiry seconds. Jobs are re-checked every tick, so content
// uploaded after the request still completes the job.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "pinfs/emulator/context.hpp"

namespace pinfs::emulator {

class JobRunner {
 public:
  explicit JobRunner(Context& ctx);
  ~JobRunner();
  void wake();
  // Runs one pass synchronously (also used right after a request so a held CID pins at once).
  void tick();

 private:
  void loop(std::stop_token stop);

  Context& ctx_;
  std::mutex mu_;  // guards woken_; leaf lock
  std::condition_variable_any cv_;
  bool woken_ = false;
  // Serialises tick() (the thread and request handlers both run it). Lock order: tick_mu_ before
  // Store::mu_ (tick calls into the Store while holding it); nothing takes tick_mu_ under another lock.
  std::mutex tick_mu_;
  std::jthread thread_;
};

}  // namespace pinfs::emulator
