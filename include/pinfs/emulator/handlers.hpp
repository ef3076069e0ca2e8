// Route registration for each face of the emulator, plus the per-request state the server's
// pre-routing hook leaves for handlers (a request-side fault to apply while reading a body).
#pragma once

#include <httplib.h>

#include <optional>
#include <string>

#include "pinfs/emulator/context.hpp"
#include "pinfs/emulator/faults.hpp"
#include "pinfs/emulator/rate_limit.hpp"

namespace pinfs::emulator {

// Set by the pre-routing hook on the worker thread that then runs the handler and the
// post-routing hook for the same request (httplib runs all three on one thread).
struct RequestState {
  std::string endpoint;
  std::optional<FaultRule> fault;
  RateDecision rate;
};
RequestState& request_state();

// Applies a response-side fault (reset_response, truncate, malformed, wrong_cid) to a reply.
void apply_response_fault(const FaultRule& f, httplib::Response& res);

// Closes the client connection of req from inside a handler (fault injection).
void abort_connection(const httplib::Request& req);

void register_pinata(httplib::Server& svr, Context& ctx);
void register_aioz(httplib::Server& svr, Context& ctx);
void register_gateway(httplib::Server& svr, Context& ctx);
void register_control(httplib::Server& svr, Context& ctx);

// Streams a multipart body into ingest, honouring a reset_request fault. False when aborted.
class MultipartIngest;
bool read_multipart(const httplib::Request& req, const httplib::ContentReader& reader,
                    MultipartIngest& ingest, Context& ctx);

}  // namespace pinfs::emulator
