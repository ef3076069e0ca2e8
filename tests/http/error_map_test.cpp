#include "pinfs/http/error_map.hpp"

#include <curl/curl.h>
#include <gtest/gtest.h>

namespace pinfs::http {
namespace {

struct StatusCase {
  long status;
  const char* reason;
  int errnum;
  bool retryable;
};

// Stable test names (the default printer dumps the struct's bytes, padding included).
void PrintTo(const StatusCase& c, std::ostream* os) {
  *os << c.status << (*c.reason ? " " : "") << c.reason;
}

class StatusTable : public ::testing::TestWithParam<StatusCase> {};

TEST_P(StatusTable, MapsStatusToErrnoAndRetry) {
  const auto& c = GetParam();
  const Outcome o = classify_status(c.status, c.reason);
  EXPECT_EQ(o.errnum, c.errnum) << c.status << " " << c.reason;
  EXPECT_EQ(o.retryable, c.retryable) << c.status << " " << c.reason;
}

INSTANTIATE_TEST_SUITE_P(
    Http, StatusTable,
    ::testing::Values(
        StatusCase{200, "", 0, false}, StatusCase{201, "", 0, false}, StatusCase{204, "", 0, false},
        StatusCase{400, "", EINVAL, false}, StatusCase{401, "INVALID_CREDENTIALS", EACCES, false},
        StatusCase{403, "API_KEY_REVOKED", EACCES, false}, StatusCase{404, "", ENOENT, false},
        StatusCase{409, "", EDQUOT, false}, StatusCase{413, "", EFBIG, false},
        StatusCase{429, "", EAGAIN, true}, StatusCase{500, "", EIO, true}, StatusCase{502, "", EIO, true},
        StatusCase{503, "", EAGAIN, true}, StatusCase{504, "", ETIMEDOUT, true},
        StatusCase{599, "", EIO, true}, StatusCase{418, "", EIO, false}, StatusCase{408, "", ETIMEDOUT, true},
        StatusCase{501, "", ENOTSUP, false}, StatusCase{403, "over_free_limit", EDQUOT, false},
        StatusCase{400, "Storage quota exceeded", EDQUOT, false}, StatusCase{302, "", EIO, false}));

TEST(StatusTable, NeverRetriedClientErrorsAreNotRetryable) {
  for (long status : {400L, 401L, 403L, 404L, 409L, 413L}) {
    EXPECT_FALSE(classify_status(status).retryable) << status;
    EXPECT_FALSE(classify_status(status).not_processed) << status;
  }
}

TEST(StatusTable, RateLimitAndUnavailableWereNotProcessed) {
  EXPECT_TRUE(classify_status(429).not_processed);
  EXPECT_TRUE(classify_status(503).not_processed);
  EXPECT_FALSE(classify_status(500).not_processed);  // the server may have acted before failing
}

struct CurlCase {
  CURLcode code;
  int errnum;
  bool retryable;
  bool not_processed;
};

void PrintTo(const CurlCase& c, std::ostream* os) {
  *os << curl_easy_strerror(c.code);
}

class CurlTable : public ::testing::TestWithParam<CurlCase> {};

TEST_P(CurlTable, MapsCurlCodeToErrnoAndRetry) {
  const auto& c = GetParam();
  const Outcome o = classify_curl(c.code);
  EXPECT_EQ(o.errnum, c.errnum) << curl_easy_strerror(c.code);
  EXPECT_EQ(o.retryable, c.retryable) << curl_easy_strerror(c.code);
  EXPECT_EQ(o.not_processed, c.not_processed) << curl_easy_strerror(c.code);
}

INSTANTIATE_TEST_SUITE_P(Curl, CurlTable,
                         ::testing::Values(CurlCase{CURLE_OK, 0, false, false},
                                           CurlCase{CURLE_COULDNT_CONNECT, ECONNREFUSED, true, true},
                                           CurlCase{CURLE_COULDNT_RESOLVE_HOST, EHOSTUNREACH, true, true},
                                           CurlCase{CURLE_OPERATION_TIMEDOUT, ETIMEDOUT, true, false},
                                           CurlCase{CURLE_RECV_ERROR, EIO, true, false},
                                           CurlCase{CURLE_SEND_ERROR, EIO, true, false},
                                           CurlCase{CURLE_GOT_NOTHING, EIO, true, false},
                                           CurlCase{CURLE_PARTIAL_FILE, EIO, true, false},
                                           CurlCase{CURLE_PEER_FAILED_VERIFICATION, EACCES, false, true},
                                           CurlCase{CURLE_WRITE_ERROR, ECANCELED, false, false},
                                           CurlCase{CURLE_ABORTED_BY_CALLBACK, ECANCELED, false, false},
                                           CurlCase{CURLE_URL_MALFORMAT, EINVAL, false, false},
                                           CurlCase{CURLE_READ_ERROR, EIO, false, false},
                                           CurlCase{CURLE_TOO_MANY_REDIRECTS, ELOOP, false, false},
                                           CurlCase{CURLE_FTP_WEIRD_PASV_REPLY, EIO, false, false}));

TEST(StatusError, MessageNamesStatusAndReasonWithTableErrno) {
  const Error e = status_error("pinList", 401, "INVALID_CREDENTIALS");
  EXPECT_EQ(e.errnum, EACCES);
  EXPECT_FALSE(e.retryable);
  EXPECT_NE(e.message.find("pinList"), std::string::npos);
  EXPECT_NE(e.message.find("401"), std::string::npos);
  EXPECT_NE(e.message.find("INVALID_CREDENTIALS"), std::string::npos);
  const Error busy = status_error("upload", 429, "");
  EXPECT_EQ(busy.errnum, EAGAIN);
  EXPECT_TRUE(busy.retryable);
}

}  // namespace
}  // namespace pinfs::http
