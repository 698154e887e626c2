#include "exporter/cmdb/api_outcome.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "exporter/metrics/self_metrics.h"

namespace cloudaware_exporter {
namespace {

// One event the token source or the query client reports, as its call site
// classifies it, and cloudaware_up after it (nullopt: as it was).
struct UpCase {
  const char* event;
  ApiOutcome outcome;
  std::optional<bool> up;
};

const UpCase kUpCases[] = {
    // TokenSource::Request, and TokenSource::Fail with each result.
    {"token obtained", ApiOutcome::kTokenObtained, true},
    {"token endpoint unreachable", TokenFailureOutcome("network"), false},
    {"token answer without access_token", TokenFailureOutcome("parse"), false},
    {"token refused: invalid_client", TokenFailureOutcome("invalid_client"),
     false},
    {"token refused: invalid_grant", TokenFailureOutcome("invalid_grant"),
     false},
    {"token endpoint 500", TokenFailureOutcome("http_500"), false},
    {"token endpoint 400 without OAuth body", TokenFailureOutcome("http_400"),
     false},
    {"fresh token refused by the API", TokenFailureOutcome("refused"), false},
    // CmdbClient::Attempt.
    {"no answer: reset, TLS, timeout", ApiOutcome::kTransportError, false},
    {"200", AnswerOutcome(200, ""), true},
    {"204", AnswerOutcome(204, ""), true},
    {"302", AnswerOutcome(302, "http_302"), true},
    {"400 MALFORMED_QUERY", AnswerOutcome(400, "MALFORMED_QUERY"), true},
    {"400 INVALID_FIELD", AnswerOutcome(400, "INVALID_FIELD"), true},
    {"403 INSUFFICIENT_ACCESS", AnswerOutcome(403, "INSUFFICIENT_ACCESS"),
     true},
    {"404 NOT_FOUND", AnswerOutcome(404, "NOT_FOUND"), true},
    {"401 INVALID_SESSION_ID after a renewal",
     AnswerOutcome(401, "INVALID_SESSION_ID"), false},
    {"401 http_401 after a renewal", AnswerOutcome(401, "http_401"), false},
    {"401 not valid for the REST API", AnswerOutcome(401, "INVALID_SESSION_ID"),
     false},
    {"403 REQUEST_LIMIT_EXCEEDED", AnswerOutcome(403, "REQUEST_LIMIT_EXCEEDED"),
     false},
    {"503 REQUEST_LIMIT_EXCEEDED", AnswerOutcome(503, "REQUEST_LIMIT_EXCEEDED"),
     false},
    {"500 UNKNOWN_EXCEPTION", AnswerOutcome(500, "UNKNOWN_EXCEPTION"), false},
    {"503 SERVER_UNAVAILABLE", AnswerOutcome(503, "SERVER_UNAVAILABLE"), false},
    {"502 HTML from an edge proxy", AnswerOutcome(502, "http_502"), false},
    // ReadPage and QueryBatch.
    {"2xx query body not a query page", ApiOutcome::kUnparseable, false},
    {"2xx composite body without compositeResponse", ApiOutcome::kUnparseable,
     false},
    {"composite subresponse missing or not a query page",
     ApiOutcome::kUnparseable, false},
    {"composite subresponse 400 INVALID_FIELD", ApiOutcome::kSubrequestError,
     std::nullopt},
    {"composite subresponse 500", ApiOutcome::kSubrequestError, std::nullopt},
};

TEST(ApiOutcomeTest, UpAfterEveryEvent) {
  for (const UpCase& c : kUpCases) {
    EXPECT_EQ(UpAfter(c.outcome), c.up) << c.event;
    for (bool before : {false, true}) {
      SelfMetrics metrics("test", "test");
      metrics.SetUp(before);
      ReportOutcome(metrics, c.outcome);
      EXPECT_EQ(metrics.up(), c.up.value_or(before))
          << c.event << ", up before: " << before;
    }
  }
}

TEST(ApiOutcomeTest, ClassifiesAnswers) {
  struct Case {
    int status;
    const char* code;
    ApiOutcome outcome;
  };
  const Case cases[] = {
      {200, "", ApiOutcome::kAnswered},
      {299, "", ApiOutcome::kAnswered},
      {302, "http_302", ApiOutcome::kRequestError},
      {400, "INVALID_FIELD", ApiOutcome::kRequestError},
      {404, "NOT_FOUND", ApiOutcome::kRequestError},
      {499, "http_499", ApiOutcome::kRequestError},
      {401, "INVALID_SESSION_ID", ApiOutcome::kTokenRefused},
      {401, "REQUEST_LIMIT_EXCEEDED", ApiOutcome::kTokenRefused},
      {403, "REQUEST_LIMIT_EXCEEDED", ApiOutcome::kRequestLimit},
      {500, "REQUEST_LIMIT_EXCEEDED", ApiOutcome::kRequestLimit},
      {500, "UNKNOWN_EXCEPTION", ApiOutcome::kServerError},
      {599, "http_599", ApiOutcome::kServerError},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(AnswerOutcome(c.status, c.code), c.outcome)
        << c.status << " " << c.code;
  }
}

TEST(ApiOutcomeTest, ClassifiesTokenFailures) {
  EXPECT_EQ(TokenFailureOutcome("network"), ApiOutcome::kTransportError);
  EXPECT_EQ(TokenFailureOutcome("parse"), ApiOutcome::kUnparseable);
  for (const char* result :
       {"refused", "invalid_client", "invalid_grant", "http_500", "http_429"}) {
    EXPECT_EQ(TokenFailureOutcome(result), ApiOutcome::kTokenRefused) << result;
  }
}

}  // namespace
}  // namespace cloudaware_exporter
