#include "pinfs/emulator/jobs.hpp"

#include "pinfs/emulator/dag_reader.hpp"

namespace pinfs::emulator {

JobRunner::JobRunner(Context& ctx) : ctx_(ctx) {
  thread_ = std::jthread([this](std::stop_token st) { loop(st); });
}

JobRunner::~JobRunner() {
  thread_.request_stop();
  cv_.notify_all();
}

void JobRunner::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void JobRunner::loop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, stop, std::chrono::milliseconds(250), [&] { return woken_; });
      woken_ = false;
    }
    if (stop.stop_requested()) break;
    tick();
  }
}

void JobRunner::tick() {
  std::lock_guard tick_lock(tick_mu_);
  std::vector<JobRecord> pending;
  ctx_.store->with_jobs([&](const std::vector<JobRecord>& jobs) {
    for (auto& j : jobs)
      if (j.status == "prechecking" || j.status == "searching" || j.status == "retrieving")
        pending.push_back(j);
  });
  std::int64_t now = now_us();
  DagReader reader(*ctx_.blocks);
  for (auto& j : pending) {
    auto c = cid::Cid::parse(j.cid);
    DagStats stats;
    if (c) stats = reader.stats(*c);
    if (c && stats.complete) {
      PinRecord p;
      p.id = j.id;
      p.cid = j.cid;
      p.name = j.name.empty() ? j.cid : j.name;
      p.keyvalues = j.keyvalues;
      p.dag_size = stats.dag_size;
      p.content_size = stats.content_size;
      p.files = stats.files;
      p.is_dir = stats.is_dir;
      p.mime_type = stats.is_dir ? "directory" : guess_mime(p.name);
      p.is_pin_by_hash = true;
      ctx_.store->add_pin(p, /*dedupe=*/false);
      ctx_.store->set_job_status(j.id, "pinned");
    } else if (now - j.date_queued_us >= static_cast<std::int64_t>(ctx_.config.job_expiry_s) * 1000000) {
      ctx_.store->set_job_status(j.id, "expired");
    } else if (j.status == "prechecking") {
      ctx_.store->set_job_status(j.id, "searching");
    }
  }
}

}  // namespace pinfs::emulator
