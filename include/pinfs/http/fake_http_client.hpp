// An in-memory HttpClient for tests of the layers above: answers from a script or a
// handler and records every request it saw (bodies of files are read at call time).
#pragma once

#include <deque>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "pinfs/http/http_client.hpp"

namespace pinfs::http {

class FakeHttpClient final : public HttpClient {
 public:
  using Handler = std::function<Result<Response>(const Request&)>;

  struct Seen {
    Method method;
    std::string url;
    Headers headers;
    std::string body;  // BufferBody data or the FileBody's bytes; multipart: empty
    std::vector<MultipartPart> parts;
    std::string rate_class;
    bool idempotent;
  };

  // Queued answers are used first, in order; then the handler; else 404.
  void push(Result<Response> answer) {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(answer));
  }
  void push(long status, std::string body, Headers headers = {}) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    push(Result<Response>(std::move(r)));
  }
  void set_handler(Handler handler) {
    std::lock_guard lock(mutex_);
    handler_ = std::move(handler);
  }

  std::vector<Seen> seen() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  std::size_t calls() const {
    std::lock_guard lock(mutex_);
    return seen_.size();
  }

  Result<Response> perform(const Request& request) override {
    Seen s{request.method, request.url, request.headers, {}, {}, request.rate_class, request.idempotent};
    if (const auto* b = std::get_if<BufferBody>(&request.body)) s.body = b->data;
    if (const auto* f = std::get_if<FileBody>(&request.body)) {
      std::ifstream in(f->path, std::ios::binary);
      std::ostringstream out;
      out << in.rdbuf();
      s.body = out.str();
    }
    if (const auto* m = std::get_if<MultipartBody>(&request.body)) s.parts = m->parts;
    Result<Response> answer = fail(ENOENT, "fake: no answer");
    Handler handler;
    {
      std::lock_guard lock(mutex_);
      seen_.push_back(s);
      if (!queue_.empty()) {
        answer = std::move(queue_.front());
        queue_.pop_front();
      } else if (handler_) {
        handler = handler_;
      } else {
        Response r;
        r.status = 404;
        answer = r;
      }
    }
    if (handler) answer = handler(request);
    if (answer && answer->ok() && request.sink && !answer->body.empty()) {
      if (request.on_start) request.on_start(answer->status, answer->headers);
      if (!request.sink(answer->body.data(), answer->body.size()))
        return fail(ECANCELED, "fake: sink stopped");
      answer->body_bytes = answer->body.size();
      answer->body.clear();
    }
    return answer;
  }

 private:
  mutable std::mutex mutex_;  // guards everything below
  std::deque<Result<Response>> queue_;
  Handler handler_;
  std::vector<Seen> seen_;
};

}  // namespace pinfs::http
