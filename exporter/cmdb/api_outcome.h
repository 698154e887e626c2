// What one exchange with the Cloudaware API came to, and the one rule that
// turns it into cloudaware_up. The token source and the query client report
// every exchange here, from whichever thread made it.
//
// The rule: cloudaware_up is 1 when the API last answered as a working API
// does: with a token, with data, or by refusing this one request (a 4xx such
// as INVALID_FIELD or NOT_FOUND says the query is wrong, not the API). It is
// 0 when there was no answer (network error, timeout), a 5xx, no usable token
// (the token endpoint gave none, or the API refused one with a 401 that a
// renewal does not cure), REQUEST_LIMIT_EXCEEDED, or a 2xx body that is not
// what was asked for. A composite subrequest's own error leaves it as the
// composite call's answer set it: that answer came from a working API.
#ifndef CLOUDAWARE_EXPORTER_CMDB_API_OUTCOME_H_
#define CLOUDAWARE_EXPORTER_CMDB_API_OUTCOME_H_

#include <optional>
#include <string>

namespace cloudaware_exporter {

class SelfMetrics;

enum class ApiOutcome {
  kTokenObtained,    // the token endpoint gave a token
  kAnswered,         // a 2xx answer to a REST call
  kRequestError,     // an answer below 500 refusing this request only
                     // (INVALID_FIELD, NOT_FOUND): not a 2xx, a 401 or
                     // REQUEST_LIMIT_EXCEEDED
  kServerError,      // a 5xx, JSON or an edge proxy's HTML page
  kTransportError,   // no answer: connection, TLS, reset, timeout
  kTokenRefused,     // the token endpoint answered without a token, or the
                     // API answered 401 to a token obtained moments ago, to
                     // a renewed one, or for a reason other than an ended
                     // session
  kRequestLimit,     // REQUEST_LIMIT_EXCEEDED: daily allocation, concurrency
  kUnparseable,      // a 2xx that is not a token, a query page or a
                     // composite answer; a composite subresponse that is
                     // missing or not a query page
  kSubrequestError,  // a composite subresponse's own error, any other code
};

// The rule above: the value of cloudaware_up after the outcome, or nullopt
// when it leaves the value as it was.
std::optional<bool> UpAfter(ApiOutcome outcome);

// The outcome of an HTTP answer from the REST API, error_code being the
// code ParseRestError read from it (ignored for a 2xx).
ApiOutcome AnswerOutcome(int status, const std::string& error_code);

// The outcome of a failed token request, from its TokenFailure result:
// "network", "parse", "refused", "http_<status>" or an OAuth error code.
ApiOutcome TokenFailureOutcome(const std::string& result);

// Sets cloudaware_up in metrics as UpAfter(outcome) says.
void ReportOutcome(SelfMetrics& metrics, ApiOutcome outcome);

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_CMDB_API_OUTCOME_H_
