// Everything the handlers share. Built once at start; the members lock themselves.
//
// Lock order: Store::mu_, Faults::mu_, RateLimiter::mu_, Stats::mu_ and JobRunner::mu_ are leaf
// locks (nothing else is taken while one is held). The only nesting is JobRunner::tick_mu_ →
// Store::mu_. BlockStore needs no lock (blocks are immutable and published by rename).
#pragma once

#include <memory>
#include <string>

#include "pinfs/emulator/block_store.hpp"
#include "pinfs/emulator/emulator.hpp"
#include "pinfs/emulator/faults.hpp"
#include "pinfs/emulator/network.hpp"
#include "pinfs/emulator/rate_limit.hpp"
#include "pinfs/emulator/stats.hpp"
#include "pinfs/emulator/store.hpp"

namespace pinfs::emulator {

struct Credentials {
  std::string jwt;
  std::string api_key;
  std::string api_secret;
};

class JobRunner;

struct Context {
  Config config;
  Credentials creds;
  std::string tmp_dir;
  std::unique_ptr<BlockStore> blocks;
  std::unique_ptr<Store> store;
  Faults faults;
  RateLimiter limits;
  NetworkShape network;  // atomics, no lock
  Stats stats;
  JobRunner* jobs = nullptr;
};

}  // namespace pinfs::emulator
