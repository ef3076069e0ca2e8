// Server setup: builds the context, wires the hooks (stats, rate limits, faults) around the
// routes, prints the "listening on" line and serves until SIGTERM/SIGINT.
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "pinfs/cid/cid.hpp"
#include "pinfs/common/log.hpp"
#include "pinfs/emulator/auth.hpp"
#include "pinfs/emulator/emulator.hpp"
#include "pinfs/emulator/handlers.hpp"
#include "pinfs/emulator/jobs.hpp"
#include "pinfs/emulator/routes.hpp"

namespace pinfs::emulator {

namespace {

void limited_reply(const std::string& rate_class, httplib::Response& res) {
  if (rate_class == "aioz")
    aioz_error(res, 429, "Too many requests");
  else if (rate_class == "gateway") {
    res.status = 429;
    res.set_content("Too many requests\n", "text/plain");
  } else
    pinata_error(res, 429, "RATE_LIMITED", "Too many requests, please slow down");
}

void fault_status_reply(const FaultRule& f, const std::string& path, httplib::Response& res) {
  if (!f.body.empty()) {
    json_reply(res, f.status, f.body);
  } else if (path.rfind("/api/", 0) == 0) {
    aioz_error(res, f.status, "emulated fault");
  } else if (path.rfind("/ipfs/", 0) == 0) {
    res.status = f.status;
    res.set_content("emulated fault\n", "text/plain");
  } else {
    pinata_error(res, f.status, "EMULATED_FAULT", "injected by pinfs-emulator");
  }
  if (f.retry_after >= 0) res.set_header("Retry-After", std::to_string(f.retry_after));
}

bool is_upload(const std::string& endpoint) {
  return endpoint == "POST /pinning/pinFileToIPFS" || endpoint == "POST /api/pinning/";
}

void install_hooks(httplib::Server& svr, Context& ctx) {
  svr.set_pre_routing_handler([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto& st = request_state();
    st = RequestState{};
    auto info = classify(req.method, req.path);
    st.endpoint = info.endpoint;
    std::uint64_t in = 0;
    if (req.has_header("Content-Length"))
      in = std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10);
    ctx.stats.request(info.endpoint, in);
    if (info.rate_class == "control") return httplib::Server::HandlerResponse::Unhandled;
    ctx.network.delay_request();
    st.rate = ctx.limits.check(info.rate_class);
    // A reply sent before the body was read: close the connection afterwards, so the unread
    // body is never taken for the next request on it.
    bool has_body = in > 0 || req.has_header("Transfer-Encoding");
    if (st.rate.limited && !st.rate.allowed) {
      limited_reply(info.rate_class, res);
      res.set_header("Retry-After", std::to_string(st.rate.retry_after_s));
      if (has_body) res.set_header("Connection", "close");
      return httplib::Server::HandlerResponse::Handled;
    }
    auto f = ctx.faults.match(req.method, req.path);
    if (!f) return httplib::Server::HandlerResponse::Unhandled;
    switch (f->action) {
      case FaultAction::Status:
        fault_status_reply(*f, req.path, res);
        if (has_body) res.set_header("Connection", "close");
        return httplib::Server::HandlerResponse::Handled;
      case FaultAction::Stall:
        std::this_thread::sleep_for(std::chrono::milliseconds(f->stall_ms));
        return httplib::Server::HandlerResponse::Unhandled;
      case FaultAction::ResetRequest:
        if (is_upload(info.endpoint) && f->after_bytes > 0) {
          st.fault = f;  // the upload handler cuts the connection after that many body bytes
          return httplib::Server::HandlerResponse::Unhandled;
        }
        abort_connection(req);
        res.status = 500;
        return httplib::Server::HandlerResponse::Handled;
      default:
        st.fault = f;
        return httplib::Server::HandlerResponse::Unhandled;
    }
  });
  svr.set_post_routing_handler([&ctx](const httplib::Request& req, httplib::Response& res) {
    spdlog::debug("{} {} -> {}", req.method, req.path, res.status);
    auto& st = request_state();
    if (st.rate.announce) {
      res.set_header("X-RateLimit-Limit", std::to_string(st.rate.limit));
      res.set_header("X-RateLimit-Remaining", std::to_string(st.rate.remaining));
      res.set_header("X-RateLimit-Reset", std::to_string(st.rate.reset_epoch_s));
    }
    if (st.fault && st.fault->action != FaultAction::ResetRequest) apply_response_fault(*st.fault, res);
    ctx.stats.response(res.status, res.body.size());
    if (req.path.rfind("/_emulator/", 0) != 0) ctx.network.shape_reply(res);
    st = RequestState{};
  });
  svr.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty() || res.content_provider_) return;
    if (res.status == 404) {
      if (req.path.rfind("/api/", 0) == 0)
        aioz_error(res, 404, "not found");
      else if (req.path.rfind("/ipfs/", 0) != 0)
        pinata_error(res, 404, "NOT_FOUND", "No such endpoint: " + req.method + " " + req.path);
    }
  });
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("handler failed: {}", what);
    json_reply(res, 500,
               "{\"error\":{\"reason\":\"INTERNAL\",\"details\":" + json_escape_string(what) + "}}");
  });
}

bool from_loopback(const httplib::Request& req, httplib::Response& res) {
  const std::string& a = req.remote_addr;
  if (a.rfind("127.", 0) == 0 || a == "::1" || a.rfind("::ffff:127.", 0) == 0) return true;
  json_reply(res, 403, "{\"error\":\"the control API answers loopback callers only\"}");
  return false;
}

void register_network(httplib::Server& svr, Context& ctx) {
  svr.Get("/_emulator/network", [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (from_loopback(req, res)) json_reply(res, 200, ctx.network.to_json());
  });
  svr.Post("/_emulator/network", [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!from_loopback(req, res)) return;
    if (auto ok = ctx.network.update_json(req.body); !ok) {
      json_reply(res, 400, "{\"error\":" + json_escape_string(ok.error().message) + "}");
      return;
    }
    json_reply(res, 200, ctx.network.to_json());
  });
}

}  // namespace

int run_main(int argc, char** argv) {
  auto cfg = parse_args(argc, argv);
  if (!cfg) {
    if (cfg.error().errnum == ECANCELED) return 0;
    std::fprintf(stderr, "pinfs-emulator: %s\n", cfg.error().message.c_str());
    return 2;
  }
  log::setup(cfg->log_level);

  // Signals are taken by one thread with sigwait; every other thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  Context ctx;
  ctx.config = *cfg;
  ctx.network.set_latency_ms(cfg->latency_ms);
  ctx.network.set_bandwidth_mbit(cfg->bandwidth_mbit);
  for (auto& spec : cfg->rate_limits) {
    if (auto r = ctx.limits.add_rule(spec); !r) {
      std::fprintf(stderr, "pinfs-emulator: %s\n", r.error().message.c_str());
      return 2;
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(cfg->data_dir, ec);
  if (ec) {
    std::fprintf(stderr, "pinfs-emulator: cannot create %s: %s\n", cfg->data_dir.c_str(),
                 ec.message().c_str());
    return 1;
  }
  std::string generated;
  auto creds = load_credentials(cfg->data_dir, generated);
  if (!creds) {
    std::fprintf(stderr, "pinfs-emulator: credentials: %s\n", creds.error().describe().c_str());
    return 1;
  }
  ctx.creds = *creds;
  if (!generated.empty()) std::fprintf(stderr, "pinfs-emulator: credentials in %s\n", generated.c_str());
  ctx.tmp_dir = cfg->data_dir + "/tmp";
  std::filesystem::remove_all(ctx.tmp_dir, ec);  // spool files of uploads cut short by a previous run
  std::filesystem::create_directories(ctx.tmp_dir, ec);
  ctx.blocks = std::make_unique<BlockStore>(cfg->data_dir + "/blocks");
  auto store = Store::open(cfg->data_dir);
  if (!store) {
    std::fprintf(stderr, "pinfs-emulator: state: %s\n", store.error().describe().c_str());
    return 1;
  }
  ctx.store = std::move(*store);
  ctx.blocks->set_generator([store = ctx.store.get()](const cid::Cid& c) { return store->bulk_block(c); });
  if (const auto want = static_cast<std::size_t>(cfg->bulk_pins); want > 0) {
    const std::size_t have = ctx.store->count_named("bulk-");
    if (have < want) {
      if (auto r = ctx.store->add_bulk(want - have, "bulk-", 365 * 86400); !r) {
        std::fprintf(stderr, "pinfs-emulator: --bulk-pins: %s\n", r.error().describe().c_str());
        return 1;
      }
    }
  }
  JobRunner jobs(ctx);
  ctx.jobs = &jobs;

  httplib::Server svr;
  int threads = cfg->threads;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  svr.set_keep_alive_max_count(100000);
  svr.set_read_timeout(60, 0);
  svr.set_write_timeout(60, 0);
  svr.set_tcp_nodelay(true);
  install_hooks(svr, ctx);
  register_control(svr, ctx);
  register_network(svr, ctx);
  register_pinata(svr, ctx);
  register_aioz(svr, ctx);
  register_gateway(svr, ctx);

  int port = cfg->port;
  if (port == 0) {
    port = svr.bind_to_any_port(cfg->host);
    if (port < 0) port = 0;
  } else if (!svr.bind_to_port(cfg->host, port)) {
    port = 0;
  }
  if (port <= 0) {
    std::fprintf(stderr, "pinfs-emulator: cannot listen on %s:%d\n", cfg->host.c_str(), cfg->port);
    return 1;
  }

  std::thread signal_thread([&svr, stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    svr.stop();
  });
  std::thread server_thread([&svr] { svr.listen_after_bind(); });
  // The socket is bound and listening (the kernel queues connections), so the line is true now.
  bool v6 = cfg->host.find(':') != std::string::npos;
  std::printf("pinfs-emulator listening on http://%s%s%s:%d\n", v6 ? "[" : "", cfg->host.c_str(),
              v6 ? "]" : "", port);
  std::fflush(stdout);
  server_thread.join();
  // svr.stop() came from the signal thread; if listen ended on its own, wake that thread.
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  ctx.jobs = nullptr;
  return 0;
}

}  // namespace pinfs::emulator
