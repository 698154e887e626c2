#include "exporter/cmdb/api_outcome.h"

#include "exporter/metrics/self_metrics.h"

namespace cloudaware_exporter {

std::optional<bool> UpAfter(ApiOutcome outcome) {
  switch (outcome) {
    case ApiOutcome::kTokenObtained:
    case ApiOutcome::kAnswered:
    case ApiOutcome::kRequestError:
      return true;
    case ApiOutcome::kServerError:
    case ApiOutcome::kTransportError:
    case ApiOutcome::kTokenRefused:
    case ApiOutcome::kRequestLimit:
    case ApiOutcome::kUnparseable:
      return false;
    case ApiOutcome::kSubrequestError:
      return std::nullopt;
  }
  return std::nullopt;
}

ApiOutcome AnswerOutcome(int status, const std::string& error_code) {
  if (status >= 200 && status < 300) return ApiOutcome::kAnswered;
  // The client renews a token once after a 401; a 401 that comes this far
  // refused the renewed one too, or was not about an ended session.
  if (status == 401) return ApiOutcome::kTokenRefused;
  // Checked before the status: Salesforce sends it as a 403, but no call
  // will succeed for a while whatever the status says.
  if (error_code == "REQUEST_LIMIT_EXCEEDED") return ApiOutcome::kRequestLimit;
  if (status >= 500) return ApiOutcome::kServerError;
  return ApiOutcome::kRequestError;
}

ApiOutcome TokenFailureOutcome(const std::string& result) {
  if (result == "network") return ApiOutcome::kTransportError;
  if (result == "parse") return ApiOutcome::kUnparseable;
  return ApiOutcome::kTokenRefused;
}

void ReportOutcome(SelfMetrics& metrics, ApiOutcome outcome) {
  if (std::optional<bool> up = UpAfter(outcome)) metrics.SetUp(*up);
}

}  // namespace cloudaware_exporter
