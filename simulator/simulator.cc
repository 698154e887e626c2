// The simulator's HTTP layer. Every request goes through Impl::Serve:
// classify the endpoint, apply injected faults, answer, charge the daily
// allocation, log. Composite subrequests reuse the same REST routing without
// the HTTP around it, which is what makes their call accounting differ.
#include "simulator/simulator.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "exporter/base/duration.h"
#include "simulator/soql.h"

namespace cmdb_simulator {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr size_t kMaxLogEntries = 100000;
constexpr size_t kMaxCursors = 1000;
constexpr size_t kAggregateRowCap = 2000;
constexpr int kCompositeMaxSubrequests = 25;
constexpr int kCompositeMaxQueries = 5;
constexpr char kJsonType[] = "application/json;charset=UTF-8";
constexpr char kOrgId[] = "00DSIM000000001EAA";
constexpr char kUserId[] = "005SIM000000001AAA";

int64_t WallMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What one request gets back, plus what the simulator needs to account for.
struct Reply {
  int status = 200;
  std::string content_type = kJsonType;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool reset = false;  // abort the TCP connection instead of answering
  int cost = 0;        // calls charged to the daily allocation
  std::string fault;   // the injected fault, for the request log
};

Reply JsonReply(int status, const ojson& body) {
  Reply r;
  r.status = status;
  r.body = body.dump();
  return r;
}

// REST errors are an array of {message, errorCode}, as in
// https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
Reply RestError(int status, const std::string& code, const std::string& message,
                bool as_object = false) {
  ojson e = {{"message", message}, {"errorCode", code}};
  return JsonReply(status, as_object ? e : ojson::array({e}));
}

std::string OAuthDescription(const std::string& error) {
  static const std::map<std::string, std::string> kDescriptions = {
      {"invalid_client", "invalid client credentials"},
      {"invalid_client_id", "client identifier invalid"},
      {"unsupported_grant_type", "grant type not supported"},
      {"invalid_grant", "authentication failure"},
      {"inactive_user", "user is inactive"},
      {"inactive_org", "organization is locked, closed or suspended"},
      {"rate_limit_exceeded", "rate limit exceeded"},
      {"invalid_request", "invalid request"},
      {"invalid_scope", "the requested scope is not allowed"},
      {"unsupported_response_type", "response type not supported"},
  };
  auto it = kDescriptions.find(error);
  return it == kDescriptions.end() ? "authentication failure" : it->second;
}

Reply OAuthError(int status, const std::string& error,
                 const std::string& description) {
  return JsonReply(status,
                   ojson{{"error", error}, {"error_description", description}});
}

std::string HtmlPage(int status) {
  return "<!DOCTYPE html>\n<html><head><title>" + std::to_string(status) +
         " Service Unavailable</title></head><body><h1>Service "
         "Unavailable</h1><p>The server is temporarily unable to service your "
         "request. Please try again later.</p></body></html>\n";
}

std::string DefaultErrorCode(int status) {
  switch (status) {
    case 400:
      return "MALFORMED_QUERY";
    case 401:
      return "INVALID_SESSION_ID";
    case 403:
      return "REQUEST_LIMIT_EXCEEDED";
    case 404:
      return "NOT_FOUND";
    case 500:
      return "UNKNOWN_EXCEPTION";
    case 503:
      return "SERVER_UNAVAILABLE";
    default:
      return "UNKNOWN_EXCEPTION";
  }
}

std::string DefaultErrorMessage(const std::string& code) {
  if (code == "SERVER_UNAVAILABLE") return "Server Unavailable";
  if (code == "UNKNOWN_EXCEPTION") {
    return "An unexpected error occurred. Please include this ErrorId if you "
           "contact support: 1234567890-12345 (-1234567890)";
  }
  if (code == "INVALID_SESSION_ID") return "Session expired or invalid";
  if (code == "REQUEST_LIMIT_EXCEEDED") return "TotalRequests Limit exceeded.";
  if (code == "NOT_FOUND") return "The requested resource does not exist";
  if (code == "QUERY_TIMEOUT") {
    return "Your query request was running for too long.";
  }
  return "simulated error";
}

// A request, detached from httplib so composite subrequests can be made up.
struct Call {
  std::string method;
  std::string path;
  std::multimap<std::string, std::string> params;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool secure = false;

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
  std::string Param(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
  }
  bool HasParam(const std::string& name) const { return params.count(name); }
};

std::string UrlDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() &&
               std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(
          std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::multimap<std::string, std::string> ParseForm(std::string_view s) {
  std::multimap<std::string, std::string> out;
  while (!s.empty()) {
    size_t amp = s.find('&');
    std::string_view pair = s.substr(0, amp);
    size_t eq = pair.find('=');
    if (!pair.empty()) {
      out.emplace(
          UrlDecode(pair.substr(0, eq)),
          eq == std::string_view::npos ? "" : UrlDecode(pair.substr(eq + 1)));
    }
    if (amp == std::string_view::npos) break;
    s.remove_prefix(amp + 1);
  }
  return out;
}

std::string Base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data,
                            static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

std::optional<std::string> Base64Decode(const std::string& in) {
  if (in.empty() || in.size() % 4 != 0) return std::nullopt;
  std::string out(in.size() / 4 * 3 + 1, '\0');
  int len = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
  if (len < 0) return std::nullopt;
  size_t pad = 0;
  if (in.size() >= 1 && in[in.size() - 1] == '=') ++pad;
  if (in.size() >= 2 && in[in.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(len) - pad);
  return out;
}

// Finds the socket of the connection that carried req. httplib does not
// expose it for plain HTTP, so match the peer and local ports over our fds.
int ConnectionFd(const httplib::Request& req) {
  if (req.ssl != nullptr) return SSL_get_fd(req.ssl);
  for (int fd = 0; fd < 4096; ++fd) {
    sockaddr_storage peer{}, local{};
    socklen_t pl = sizeof peer, ll = sizeof local;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) != 0) continue;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll) != 0)
      continue;
    auto port_of = [](const sockaddr_storage& a) {
      if (a.ss_family == AF_INET) {
        return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
      }
      if (a.ss_family == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
      }
      return uint16_t{0};
    };
    if (port_of(peer) == req.remote_port && port_of(local) == req.local_port) {
      return fd;
    }
  }
  return -1;
}

// Sends a TCP RST: connect(AF_UNSPEC) disconnects an established socket
// abortively on Linux while leaving the fd to httplib, which closes it.
void ResetConnection(const httplib::Request& req) {
  int fd = ConnectionFd(req);
  if (fd < 0) return;
  linger lg{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  sockaddr sa{};
  sa.sa_family = AF_UNSPEC;
  connect(fd, &sa, sizeof sa);
}

// A path below /services/data/v<version>/: the version ("66.0") and the
// rest, without a trailing slash ("query", "sobjects/X/describe", "").
struct DataPath {
  std::string version;
  std::string rest;
};
std::optional<DataPath> SplitDataPath(const std::string& path) {
  const std::string prefix = "/services/data/v";
  if (path.rfind(prefix, 0) != 0) return std::nullopt;
  std::string rest = path.substr(prefix.size());
  size_t slash = rest.find('/');
  DataPath out{rest.substr(0, slash),
               slash == std::string::npos ? "" : rest.substr(slash + 1)};
  if (!out.rest.empty() && out.rest.back() == '/') out.rest.pop_back();
  return out;
}

// The endpoint kinds used in fault rules, the request log and stats.
std::string Classify(const std::string& path) {
  if (path.rfind("/_sim/", 0) == 0 || path == "/_sim") return "control";
  if (path == "/services/oauth2/token") return "token";
  if (path == "/services/oauth2/revoke") return "revoke";
  if (path == "/services/oauth2/introspect") return "introspect";
  if (path == "/services/data" || path == "/services/data/") return "versions";
  auto data = SplitDataPath(path);
  if (!data) return "other";
  const std::string& rest = data->rest;
  if (rest.empty()) return "resources";
  if (rest == "query" || rest == "queryAll") return "query";
  if (rest.rfind("query/", 0) == 0 || rest.rfind("queryAll/", 0) == 0) {
    return "query_more";
  }
  if (rest == "limits" || rest.rfind("limits/", 0) == 0) return "limits";
  if (rest == "sobjects") return "sobjects";
  if (rest.rfind("sobjects/", 0) == 0) return "describe";
  if (rest == "composite") return "composite";
  if (rest == "composite/batch") return "composite_batch";
  return "other";
}

bool IsRestKind(const std::string& kind) {
  return kind != "token" && kind != "revoke" && kind != "introspect" &&
         kind != "control" && kind != "other";
}

std::string VersionLabel(int v) {
  // v62 is Winter '25; three releases a year.
  static const char* kSeasons[] = {"Winter", "Spring", "Summer"};
  int d = v - 62;
  int season = ((d % 3) + 3) % 3;
  int year = 25 + (d - season) / 3;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s '%02d", kSeasons[season], year);
  return buf;
}

struct Fault {
  std::string endpoint = "*";
  std::string type;
  int64_t min_ms = 0, max_ms = 0;
  int status = 0;
  std::string error_code, message, oauth_error, oauth_description;
  bool object_body = false;
  int remaining = -1;  // matching requests left; -1 is unlimited
  double probability = 1;
  json spec;
};

Fault ParseFault(const json& spec) {
  if (!spec.is_object())
    throw std::invalid_argument("a fault must be a JSON object");
  static const std::vector<std::string> kKnownKeys = {"endpoint",
                                                      "type",
                                                      "ms",
                                                      "min_ms",
                                                      "max_ms",
                                                      "status",
                                                      "error_code",
                                                      "message",
                                                      "object",
                                                      "error",
                                                      "error_description",
                                                      "times",
                                                      "probability",
                                                      "max"};
  for (const auto& [key, _] : spec.items()) {
    if (std::find(kKnownKeys.begin(), kKnownKeys.end(), key) ==
        kKnownKeys.end()) {
      throw std::invalid_argument("unknown fault field '" + key + "'");
    }
  }
  auto str = [&](const char* key, const std::string& def) {
    if (!spec.contains(key)) return def;
    if (!spec[key].is_string()) {
      throw std::invalid_argument(std::string("fault field '") + key +
                                  "' must be a string");
    }
    return spec[key].get<std::string>();
  };
  auto num = [&](const char* key, double def) {
    if (!spec.contains(key)) return def;
    if (!spec[key].is_number()) {
      throw std::invalid_argument(std::string("fault field '") + key +
                                  "' must be a number");
    }
    return spec[key].get<double>();
  };
  Fault f;
  f.spec = spec;
  f.type = str("type", "");
  f.endpoint = str("endpoint", "*");
  f.remaining = static_cast<int>(num("times", -1));
  f.probability = num("probability", 1);
  if (f.probability < 0 || f.probability > 1) {
    throw std::invalid_argument(
        "fault field 'probability' must be within [0, 1]");
  }
  static const std::vector<std::string> kEndpoints = {
      "*",        "rest",      "token",     "revoke",         "introspect",
      "versions", "resources", "query",     "query_more",     "limits",
      "sobjects", "describe",  "composite", "composite_batch"};
  if (std::find(kEndpoints.begin(), kEndpoints.end(), f.endpoint) ==
      kEndpoints.end()) {
    throw std::invalid_argument("unknown fault endpoint '" + f.endpoint + "'");
  }
  if (f.type == "latency") {
    f.min_ms = static_cast<int64_t>(num("min_ms", num("ms", 0)));
    f.max_ms = static_cast<int64_t>(
        num("max_ms", num("ms", static_cast<double>(f.min_ms))));
    if (f.min_ms < 0 || f.max_ms < f.min_ms) {
      throw std::invalid_argument("latency needs 0 <= min_ms <= max_ms");
    }
  } else if (f.type == "error") {
    f.status = static_cast<int>(num("status", 0));
    if (f.status < 400 || f.status > 599) {
      throw std::invalid_argument(
          "an error fault needs a status from 400 to 599");
    }
    f.error_code = str("error_code", DefaultErrorCode(f.status));
    f.message = str("message", DefaultErrorMessage(f.error_code));
    f.object_body = spec.value("object", false);
  } else if (f.type == "html") {
    f.status = static_cast<int>(num("status", 503));
  } else if (f.type == "oauth_error") {
    f.oauth_error = str("error", "invalid_grant");
    f.oauth_description =
        str("error_description", OAuthDescription(f.oauth_error));
    f.status = static_cast<int>(num("status", 400));
    if (f.endpoint == "*") f.endpoint = "token";
  } else if (f.type == "reject_credentials" || f.type == "wrong_host") {
    if (f.endpoint == "*") f.endpoint = "token";
  } else if (f.type == "concurrency_cap") {
    f.max_ms = static_cast<int64_t>(num("max", 0));
    if (f.max_ms < 1)
      throw std::invalid_argument("concurrency_cap needs max >= 1");
  } else if (f.type != "malformed" && f.type != "truncated" &&
             f.type != "reset" && f.type != "hang" &&
             f.type != "expire_tokens" && f.type != "exhaust_daily_limit") {
    throw std::invalid_argument(
        "unknown fault type '" + f.type +
        "' (latency, error, html, malformed, truncated, reset, hang, "
        "oauth_error, reject_credentials, wrong_host, expire_tokens, "
        "exhaust_daily_limit, concurrency_cap)");
  }
  return f;
}

bool FaultMatches(const Fault& f, const std::string& kind) {
  if (f.endpoint == "*") return kind != "control";
  if (f.endpoint == "rest") return IsRestKind(kind);
  return f.endpoint == kind;
}

}  // namespace

class Simulator::Impl {
 public:
  explicit Impl(SimulatorOptions options) : options_(std::move(options)) {
    if (!options_.inventory) {
      options_.inventory =
          std::make_shared<const Inventory>(Inventory::Generate({}));
    }
    inventory_ = options_.inventory;
    if (!options_.faults.is_null()) AddFaults(options_.faults);
  }

  ~Impl() { Stop(); }

  void Start() {
    if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
      auto ssl = std::make_unique<httplib::SSLServer>(
          options_.tls_cert_file.c_str(), options_.tls_key_file.c_str());
      if (!ssl->is_valid()) {
        throw std::runtime_error("cannot load TLS certificate " +
                                 options_.tls_cert_file + " or key " +
                                 options_.tls_key_file);
      }
      server_ = std::move(ssl);
      secure_ = true;
    } else {
      server_ = std::make_unique<httplib::Server>();
    }
    int threads = options_.threads;
    server_->new_task_queue = [threads] {
      return new httplib::ThreadPool(static_cast<size_t>(threads));
    };
    server_->set_payload_max_length(64 << 20);
    // As a real API server: no answer waits on the client's delayed ACK.
    server_->set_tcp_nodelay(true);
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      Handle(req, res);
    };
    server_->Get(".*", handler);
    server_->Post(".*", handler);
    server_->Put(".*", handler);
    server_->Patch(".*", handler);
    server_->Delete(".*", handler);
    if (options_.port == 0) {
      port_ = server_->bind_to_any_port(options_.host);
    } else {
      port_ = server_->bind_to_port(options_.host, options_.port)
                  ? options_.port
                  : -1;
    }
    if (port_ <= 0) {
      throw std::runtime_error("cannot listen on " + options_.host + ":" +
                               std::to_string(options_.port));
    }
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    // httplib 0.11 has no wait_until_ready(); listen_after_bind flips
    // is_running() almost at once.
    for (int i = 0; i < 500 && !server_->is_running(); ++i) {
      std::this_thread::sleep_for(milliseconds(10));
    }
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (server_) {
      server_->stop();
      // Idle keep-alive connections would hold their worker until the
      // keep-alive timeout; shut them down so Stop returns promptly.
      ShutdownConnections();
    }
    if (thread_.joinable()) thread_.join();
  }

  int port() const { return port_; }
  std::string base_url() const {
    return std::string(secure_ ? "https" : "http") + "://" + options_.host +
           ":" + std::to_string(port_);
  }

  void AddFaults(const json& faults) {
    std::vector<Fault> parsed;
    if (faults.is_array()) {
      for (size_t i = 0; i < faults.size(); ++i) {
        try {
          parsed.push_back(ParseFault(faults[i]));
        } catch (const std::invalid_argument& e) {
          throw std::invalid_argument("faults[" + std::to_string(i) +
                                      "]: " + e.what());
        }
      }
    } else {
      parsed.push_back(ParseFault(faults));
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (Fault& f : parsed) {
      if (f.type == "expire_tokens") {
        sessions_.clear();
      } else if (f.type == "exhaust_daily_limit") {
        daily_used_ = std::max(daily_used_, options_.daily_limit);
      } else if (f.type == "concurrency_cap") {
        concurrency_cap_ = static_cast<int>(f.max_ms);
      } else {
        faults_.push_back(std::move(f));
      }
    }
  }

  void ClearFaults() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      faults_.clear();
      concurrency_cap_ = 0;
      ++fault_generation_;
    }
    cv_.notify_all();
  }

  void ExpireAllTokens() {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_.clear();
  }

  void SetInventory(std::shared_ptr<const Inventory> inventory) {
    std::lock_guard<std::mutex> lock(mu_);
    inventory_ = std::move(inventory);
  }

  std::shared_ptr<const Inventory> inventory() const {
    std::lock_guard<std::mutex> lock(mu_);
    return inventory_;
  }

  void Configure(const json& s) {
    if (!s.is_object())
      throw std::invalid_argument("settings must be a JSON object");
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, value] : s.items()) {
      auto need = [&](bool ok, const char* what) {
        if (!ok)
          throw std::invalid_argument("setting '" + key + "' must be " + what);
      };
      if (key == "client_id" || key == "client_secret" ||
          key == "aggregate_overflow" || key == "instance_url") {
        need(value.is_string(), "a string");
        std::string v = value.get<std::string>();
        if (key == "client_id") options_.client_id = v;
        if (key == "client_secret") options_.client_secret = v;
        if (key == "instance_url") options_.instance_url = v;
        if (key == "aggregate_overflow") {
          need(v == "error" || v == "truncate", "\"error\" or \"truncate\"");
          options_.aggregate_overflow = v;
        }
      } else if (key == "run_as_user" || key == "reuse_tokens" ||
                 key == "limits_call_counts") {
        need(value.is_boolean(), "true or false");
        bool v = value.get<bool>();
        if (key == "run_as_user") options_.run_as_user = v;
        if (key == "reuse_tokens") options_.reuse_tokens = v;
        if (key == "limits_call_counts") options_.limits_call_counts = v;
      } else if (key == "daily_limit" || key == "daily_used" ||
                 key == "logins_per_hour") {
        need(value.is_number_integer() && value.get<int64_t>() >= 0,
             "a non-negative integer");
        int64_t v = value.get<int64_t>();
        if (key == "daily_limit") options_.daily_limit = v;
        if (key == "daily_used") daily_used_ = v;
        if (key == "logins_per_hour")
          options_.logins_per_hour = static_cast<int>(v);
      } else if (key == "token_idle_timeout") {
        need(value.is_string(), "a duration such as \"2h\"");
        auto d = cloudaware_exporter::ParseDuration(value.get<std::string>());
        need(d.has_value(), "a duration such as \"2h\"");
        options_.token_idle_timeout = *d;
      } else {
        throw std::invalid_argument("unknown setting '" + key + "'");
      }
    }
  }

  json RequestLog() const {
    std::lock_guard<std::mutex> lock(mu_);
    json out = json::array();
    for (const json& e : log_) out.emplace_back(e);
    return out;
  }

  void ClearRequestLog() {
    std::lock_guard<std::mutex> lock(mu_);
    log_.clear();
  }

  json Stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return {{"daily_used", daily_used_},
            {"daily_limit", options_.daily_limit},
            {"logins", logins_total_},
            {"token_requests", token_requests_total_},
            {"active_tokens", sessions_.size()},
            {"requests", requests_by_kind_},
            {"calls", calls_by_kind_},
            {"in_flight", in_flight_}};
  }

 private:
  struct Session {
    std::string client_id;
    int64_t issued_ms = 0;
    Clock::time_point last_used;
  };

  struct Cursor {
    QueryResult result;
    size_t batch_size = 2000;
    bool overflow =
        false;  // an aggregate past the row cap: the next page fails
  };

  void Handle(const httplib::Request& req, httplib::Response& res) {
    Call call;
    call.method = req.method;
    call.path = req.path;
    for (const auto& [k, v] : req.params) call.params.emplace(k, v);
    for (const auto& [k, v] : req.headers) call.headers[ToLower(k)] = v;
    call.body = req.body;
    call.secure = secure_;
    Reply reply = Serve(call);
    if (reply.reset) {
      ResetConnection(req);
      res.set_header("Connection", "close");
    }
    res.status = reply.status;
    for (const auto& [k, v] : reply.headers) res.set_header(k, v);
    res.set_content(reply.body, reply.content_type);
  }

  Reply Serve(const Call& call) {
    const std::string kind = Classify(call.path);
    if (kind == "control") return Control(call);
    if (kind == "other") {
      return RestError(404, "NOT_FOUND",
                       "The requested resource does not exist");
    }

    std::optional<Fault> fault;
    int64_t latency_ms = 0;
    bool over_cap;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++in_flight_;
      ++requests_by_kind_[kind];
      // Refused on arrival when too many requests are already running, as
      // the org's concurrent long-running request limit does.
      over_cap = IsRestKind(kind) && concurrency_cap_ > 0 &&
                 in_flight_ > concurrency_cap_;
      if (!over_cap) PickFaults(kind, fault, latency_ms);
    }
    Reply reply;
    if (latency_ms > 0) Sleep(milliseconds(latency_ms));

    if (over_cap) {
      reply = RestError(403, "REQUEST_LIMIT_EXCEEDED",
                        "ConcurrentPerOrgLongTxn Limit exceeded.");
      reply.fault = "concurrency_cap";
    } else if (fault) {
      reply = ApplyFault(*fault, call, kind);
    } else {
      reply = Dispatch(call, kind);
    }
    if (latency_ms > 0 && reply.fault.empty()) reply.fault = "latency";

    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
    if (reply.cost > 0) {
      daily_used_ += reply.cost;
      calls_by_kind_[kind] += reply.cost;
    }
    if (kind != "versions" && IsRestKind(kind) && reply.status != 401 &&
        reply.fault.empty()) {
      reply.headers.emplace_back("Sforce-Limit-Info", LimitInfoLocked());
    }
    Log(call, kind, reply);
    return reply;
  }

  Reply ApplyFault(const Fault& f, const Call& call, const std::string& kind) {
    Reply r;
    if (f.type == "error") {
      r = RestError(f.status, f.error_code, f.message, f.object_body);
    } else if (f.type == "html") {
      r.status = f.status;
      r.content_type = "text/html;charset=UTF-8";
      r.body = HtmlPage(f.status);
    } else if (f.type == "oauth_error") {
      r = OAuthError(f.status, f.oauth_error, f.oauth_description);
    } else if (f.type == "reject_credentials") {
      r = OAuthError(400, "invalid_client", "invalid client credentials");
    } else if (f.type == "wrong_host") {
      r = OAuthError(400, "invalid_grant",
                     "request not supported on this domain");
    } else if (f.type == "reset") {
      r.reset = true;
      r.status = 500;
    } else if (f.type == "hang") {
      Hang();
      r.reset = true;
      r.status = 500;
    } else if (f.type == "malformed" || f.type == "truncated") {
      r = Dispatch(call, kind);
      if (f.type == "malformed") {
        r.body =
            "{\"totalSize\": 1, \"done\": true, \"records\": [{\"attributes\": "
            "}";
      } else {
        r.body.resize(r.body.size() / 2);
      }
      r.fault = f.type;
      return r;  // the API did the work, so the call is charged
    }
    r.fault = f.type;
    return r;
  }

  // Under mu_. Latencies add up; the first other matching fault applies.
  void PickFaults(const std::string& kind, std::optional<Fault>& fault,
                  int64_t& latency_ms) {
    for (auto it = faults_.begin(); it != faults_.end();) {
      Fault& f = *it;
      bool applies =
          FaultMatches(f, kind) && (f.type == "latency" || !fault) &&
          (f.probability >= 1 ||
           std::uniform_real_distribution<double>(0, 1)(rng_) < f.probability);
      if (applies) {
        if (f.type == "latency") {
          latency_ms += f.min_ms == f.max_ms
                            ? f.min_ms
                            : std::uniform_int_distribution<int64_t>(
                                  f.min_ms, f.max_ms)(rng_);
        } else {
          fault = f;
        }
        if (f.remaining > 0 && --f.remaining == 0) {
          it = faults_.erase(it);
          continue;
        }
      }
      ++it;
    }
  }

  void Sleep(milliseconds d) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, d, [this] { return stopping_; });
  }

  // Until the faults are cleared or the simulator stops, at most 10 minutes.
  void Hang() {
    std::unique_lock<std::mutex> lock(mu_);
    uint64_t generation = fault_generation_;
    cv_.wait_for(lock, std::chrono::minutes(10),
                 [&] { return stopping_ || fault_generation_ != generation; });
  }

  Reply Dispatch(const Call& call, const std::string& kind) {
    if (kind == "token") return Token(call);
    if (kind == "revoke") return Revoke(call);
    if (kind == "introspect") return Introspect(call);
    if (kind == "versions") return Versions(call);
    return Rest(call);
  }

  // --- OAuth ---------------------------------------------------------------

  // Client authentication from an HTTP Basic header or the form body.
  struct ClientAuth {
    std::string id, secret;
    bool basic = false;
  };
  static ClientAuth ReadClientAuth(
      const Call& call, const std::multimap<std::string, std::string>& form) {
    ClientAuth a;
    std::string auth = call.Header("authorization");
    if (auth.rfind("Basic ", 0) == 0) {
      if (auto decoded = Base64Decode(auth.substr(6))) {
        size_t colon = decoded->find(':');
        // Salesforce's own samples send the key and secret as they are,
        // not form-encoded first as RFC 6749 §2.3.1 would have it.
        a.id = decoded->substr(0, colon);
        if (colon != std::string::npos) a.secret = decoded->substr(colon + 1);
      }
      a.basic = true;
      return a;
    }
    auto get = [&](const char* k) {
      auto it = form.find(k);
      return it == form.end() ? std::string() : it->second;
    };
    a.id = get("client_id");
    a.secret = get("client_secret");
    return a;
  }

  bool IsFormBody(const Call& call) const {
    return ToLower(call.Header("content-type"))
               .rfind("application/x-www-form-urlencoded", 0) == 0;
  }

  // Shared by token and introspect; returns an error reply when refused.
  std::optional<Reply> CheckClient(const ClientAuth& a) {
    if (a.id.empty() || a.id != options_.client_id) {
      return OAuthError(400, "invalid_client_id", "client identifier invalid");
    }
    if (a.secret != options_.client_secret) {
      return OAuthError(a.basic ? options_.basic_invalid_client_status : 400,
                        "invalid_client", "invalid client credentials");
    }
    return std::nullopt;
  }

  Reply Token(const Call& call) {
    std::lock_guard<std::mutex> lock(mu_);
    ++token_requests_total_;
    if (call.method != "POST") {
      return OAuthError(400, "invalid_request", "must use HTTP POST");
    }
    std::string host = ToLower(call.Header("host"));
    host = host.substr(0, host.find(':'));
    if (host == "login.salesforce.com" || host == "test.salesforce.com" ||
        (host.size() > 22 && host.ends_with(".salesforce-setup.com"))) {
      return OAuthError(400, "invalid_grant",
                        "request not supported on this domain");
    }
    if (!IsFormBody(call)) {
      return OAuthError(400, "unsupported_grant_type",
                        "grant type not supported");
    }
    auto form = ParseForm(call.body);
    auto grant = form.find("grant_type");
    if (grant == form.end() || grant->second != "client_credentials") {
      return OAuthError(400, "unsupported_grant_type",
                        "grant type not supported");
    }
    if (auto refused = CheckClient(ReadClientAuth(call, form))) return *refused;
    if (!options_.run_as_user) {
      return OAuthError(400, "invalid_grant",
                        "no client credentials user enabled");
    }
    auto now = Clock::now();
    while (!logins_.empty() && now - logins_.front() > std::chrono::hours(1)) {
      logins_.pop_front();
    }
    if (static_cast<int>(logins_.size()) >= options_.logins_per_hour) {
      return OAuthError(400, "rate_limit_exceeded", "rate limit exceeded");
    }
    logins_.push_back(now);
    ++logins_total_;

    std::string token;
    if (options_.reuse_tokens) {
      for (auto& [t, s] : sessions_) {
        if (s.client_id == options_.client_id && !ExpiredLocked(s, now))
          token = t;
      }
    }
    if (token.empty()) {
      token = NewTokenLocked();
      sessions_[token] = Session{options_.client_id, WallMs(), now};
    }
    const Session& s = sessions_[token];
    std::string instance = options_.instance_url;
    if (instance.empty()) {
      std::string h = call.Header("host");
      instance = std::string(call.secure ? "https://" : "http://") +
                 (h.empty() ? options_.host + ":" + std::to_string(port_) : h);
    }
    std::string id = instance + "/id/" + kOrgId + "/" + kUserId;
    std::string issued = std::to_string(s.issued_ms);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    std::string signed_text = id + issued;
    HMAC(EVP_sha256(), options_.client_secret.data(),
         static_cast<int>(options_.client_secret.size()),
         reinterpret_cast<const unsigned char*>(signed_text.data()),
         signed_text.size(), mac, &mac_len);
    return JsonReply(200,
                     ojson{{"access_token", token},
                           {"signature", Base64(mac, mac_len)},
                           {"scope", "api"},
                           {"instance_url", instance},
                           {"id", id},
                           {"token_type", "Bearer"},
                           {"issued_at", issued},
                           {"api_instance_url", "https://api.salesforce.com"}});
  }

  Reply Revoke(const Call& call) {
    if (call.method != "POST") {
      return OAuthError(400, "unsupported_token_type", "must use HTTP POST");
    }
    auto form = ParseForm(call.body);
    auto it = form.find("token");
    std::lock_guard<std::mutex> lock(mu_);
    if (it == form.end() || sessions_.erase(it->second) == 0) {
      return OAuthError(400, "invalid_token", "invalid token");
    }
    Reply r;
    r.content_type = "text/plain";
    return r;
  }

  Reply Introspect(const Call& call) {
    if (call.method != "POST" || !IsFormBody(call)) {
      return OAuthError(400, "invalid_request",
                        "must use HTTP POST with a form body");
    }
    auto form = ParseForm(call.body);
    std::lock_guard<std::mutex> lock(mu_);
    if (auto refused = CheckClient(ReadClientAuth(call, form))) return *refused;
    auto tok = form.find("token");
    auto it = tok == form.end() ? sessions_.end() : sessions_.find(tok->second);
    if (it == sessions_.end() || ExpiredLocked(it->second, Clock::now())) {
      return JsonReply(200, ojson{{"active", false}});
    }
    const Session& s = it->second;
    auto idle_left = options_.token_idle_timeout - (Clock::now() - s.last_used);
    int64_t exp =
        (WallMs() +
         std::chrono::duration_cast<milliseconds>(idle_left).count()) /
        1000;
    return JsonReply(
        200, ojson{{"active", true},
                   {"scope", "api"},
                   {"client_id", s.client_id},
                   {"username", "cmdb-exporter@acme.example"},
                   {"sub", base_url() + "/id/" + kOrgId + "/" + kUserId},
                   {"token_type", "access_token"},
                   {"exp", exp},
                   {"iat", s.issued_ms / 1000},
                   {"nbf", s.issued_ms / 1000}});
  }

  bool ExpiredLocked(const Session& s, Clock::time_point now) const {
    return now - s.last_used > options_.token_idle_timeout;
  }

  std::string NewTokenLocked() {
    static const char kChars[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
    std::string t = std::string(kOrgId, 15) + "!AQ0AQ";
    std::uniform_int_distribution<int> pick(0, sizeof kChars - 2);
    for (int i = 0; i < 96; ++i) t += kChars[pick(rng_)];
    return t;
  }

  // --- REST ----------------------------------------------------------------

  Reply Versions(const Call&) {
    ojson list = ojson::array();
    for (int v = options_.min_api_version; v <= options_.max_api_version; ++v) {
      std::string ver = std::to_string(v) + ".0";
      list.push_back({{"label", VersionLabel(v)},
                      {"url", "/services/data/v" + ver},
                      {"version", ver}});
    }
    return JsonReply(200, list);
  }

  // Authenticates, checks the allocation, then routes.
  Reply Rest(const Call& call) {
    // Dispatch only sends paths that Classify found below /services/data/v.
    const auto [version, rest] = *SplitDataPath(call.path);

    int major = 0;
    if (version.size() >= 4 && version.ends_with(".0") &&
        std::all_of(version.begin(), version.end() - 2,
                    [](char c) { return c >= '0' && c <= '9'; })) {
      major = std::stoi(version.substr(0, version.size() - 2));
    }
    if (major < 20 || major > options_.max_api_version) {
      return RestError(404, "NOT_FOUND",
                       "The requested resource does not exist");
    }
    if (major < options_.min_api_version) {
      // Unverified body: Salesforce documents only the status (410).
      return RestError(410, "API_VERSION_RETIRED",
                       "API version " + version +
                           " has been retired. Use a "
                           "supported API version.");
    }
    if (!Authenticate(call)) {
      return RestError(401, "INVALID_SESSION_ID", "Session expired or invalid");
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (daily_used_ >= options_.daily_limit) {
        return RestError(403, "REQUEST_LIMIT_EXCEEDED",
                         "TotalRequests Limit exceeded.");
      }
    }
    return Route(call, version, rest, /*in_composite=*/false);
  }

  bool Authenticate(const Call& call) {
    std::string auth = call.Header("authorization");
    std::string token;
    if (auth.rfind("Bearer ", 0) == 0) token = auth.substr(7);
    if (auth.rfind("OAuth ", 0) == 0) token = auth.substr(6);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(token);
    if (it == sessions_.end()) return false;
    auto now = Clock::now();
    if (ExpiredLocked(it->second, now)) {
      sessions_.erase(it);
      return false;
    }
    it->second.last_used = now;
    return true;
  }

  // Routes an authenticated request below /services/data/v<version>/.
  Reply Route(const Call& call, const std::string& version,
              const std::string& rest, bool in_composite) {
    auto method_not_allowed = [&](const char* allowed) {
      return RestError(405, "METHOD_NOT_ALLOWED",
                       "HTTP Method '" + call.method +
                           "' not allowed. Allowed are " + allowed);
    };
    Reply r;
    if (rest.empty()) {
      if (call.method != "GET") return method_not_allowed("GET,HEAD");
      ojson res;
      for (const char* name :
           {"sobjects", "query", "queryAll", "limits", "composite"}) {
        res[name] = "/services/data/v" + version + "/" + name;
      }
      r = JsonReply(200, res);
    } else if (rest == "query" || rest == "queryAll") {
      if (call.method != "GET") return method_not_allowed("GET,HEAD");
      r = Query(call, version);
    } else if (rest.rfind("query/", 0) == 0 ||
               rest.rfind("queryAll/", 0) == 0) {
      if (call.method != "GET") return method_not_allowed("GET,HEAD");
      r = QueryMore(call, version, rest.substr(rest.find('/') + 1));
    } else if (rest == "limits") {
      if (call.method != "GET") return method_not_allowed("GET,HEAD");
      if (in_composite) {
        return RestError(
            400, "INVALID_API_INPUT",
            "The limits resource is not supported in a composite request");
      }
      r = Limits();
      r.cost = options_.limits_call_counts ? 1 : 0;
      return r;
    } else if (rest == "sobjects") {
      if (call.method != "GET") return method_not_allowed("GET,HEAD");
      r = JsonReply(200, DescribeGlobalJson(*inventory(), version));
    } else if (rest.rfind("sobjects/", 0) == 0) {
      if (call.method != "GET") return method_not_allowed("GET,HEAD");
      r = Describe(rest.substr(9), version);
    } else if (rest == "composite" && !in_composite) {
      if (call.method != "POST") return method_not_allowed("POST");
      return Composite(call, version);
    } else if (rest == "composite/batch" && !in_composite) {
      if (call.method != "POST") return method_not_allowed("POST");
      return Batch(call, version);
    } else {
      return RestError(404, "NOT_FOUND",
                       "The requested resource does not exist");
    }
    r.cost = 1;
    return r;
  }

  Reply Describe(const std::string& rest, const std::string& version) {
    size_t slash = rest.find('/');
    std::string name = rest.substr(0, slash);
    std::string tail = slash == std::string::npos ? "" : rest.substr(slash + 1);
    auto inv = inventory();
    const Table* table = inv->FindTable(name);
    if (table == nullptr || (tail != "describe" && !tail.empty())) {
      return RestError(404, "NOT_FOUND",
                       "The requested resource does not exist");
    }
    ojson d = DescribeJson(table->def(), version);
    if (tail.empty()) {
      // The sObject Basic Information resource: metadata plus recent items.
      ojson basic;
      ojson meta = d;
      meta.erase("fields");
      basic["objectDescribe"] = meta;
      basic["recentItems"] = ojson::array();
      return JsonReply(200, basic);
    }
    return JsonReply(200, d);
  }

  static size_t BatchSize(const Call& call) {
    std::string opts = call.Header("sforce-query-options");
    size_t pos = opts.find("batchSize=");
    if (pos == std::string::npos) return 2000;
    size_t n =
        static_cast<size_t>(std::strtoul(opts.c_str() + pos + 10, nullptr, 10));
    return std::clamp<size_t>(n, 200, 2000);
  }

  Reply Query(const Call& call, const std::string& version) {
    if (!call.HasParam("q") || call.Param("q").empty()) {
      return RestError(400, "MALFORMED_QUERY",
                       "A query string has to be specified");
    }
    auto result = RunQuery(inventory(), call.Param("q"), QueryOptions{version});
    if (auto* err = std::get_if<QueryError>(&result)) {
      return RestError(400, err->error_code, err->message);
    }
    auto cursor = std::make_shared<Cursor>();
    cursor->result = std::move(std::get<QueryResult>(result));
    cursor->batch_size = BatchSize(call);
    if (cursor->result.aggregate &&
        cursor->result.row_count > kAggregateRowCap) {
      if (options_.aggregate_overflow == "error") return AggregateOverflow();
      cursor->batch_size = kAggregateRowCap;
      cursor->overflow = true;
    }
    std::string locator;
    if (cursor->result.row_count > cursor->batch_size) {
      std::lock_guard<std::mutex> lock(mu_);
      locator = "01gSIM" + std::to_string(100000000000 + ++cursor_seq_);
      while (cursor_order_.size() >= kMaxCursors) {
        cursors_.erase(cursor_order_.front());
        cursor_order_.pop_front();
      }
      cursor_order_.push_back(locator);
      cursors_[locator] = cursor;
    }
    return Page(*cursor, locator, 0, cursor->batch_size, version);
  }

  Reply AggregateOverflow() const {
    return RestError(
        400, options_.aggregate_overflow_error_code,
        "Aggregate query does not support queryMore(), use LIMIT to "
        "restrict the results to a single batch");
  }

  // loc is "<locator>-<offset>", as in nextRecordsUrl.
  Reply QueryMore(const Call& call, const std::string& version,
                  const std::string& loc) {
    size_t dash = loc.rfind('-');
    std::shared_ptr<Cursor> cursor;
    size_t offset = 0;
    std::string locator = loc.substr(0, dash);
    if (dash != std::string::npos) {
      offset = static_cast<size_t>(
          std::strtoull(loc.c_str() + dash + 1, nullptr, 10));
      std::lock_guard<std::mutex> lock(mu_);
      auto it = cursors_.find(locator);
      if (it != cursors_.end()) cursor = it->second;
    }
    if (!cursor || offset == 0 || offset >= cursor->result.row_count) {
      return RestError(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
    }
    if (cursor->overflow) return AggregateOverflow();
    size_t batch = call.headers.count("sforce-query-options")
                       ? BatchSize(call)
                       : cursor->batch_size;
    return Page(*cursor, locator, offset, batch, version);
  }

  Reply Page(const Cursor& cursor, const std::string& locator, size_t offset,
             size_t batch, const std::string& version) {
    const QueryResult& q = cursor.result;
    size_t end = std::min(q.row_count, offset + batch);
    ojson body;
    body["totalSize"] = q.total_size;
    body["done"] = end >= q.row_count;
    if (end < q.row_count) {
      body["nextRecordsUrl"] = "/services/data/v" + version + "/query/" +
                               locator + "-" + std::to_string(end);
    }
    ojson records = ojson::array();
    for (size_t i = offset; i < end; ++i) records.push_back(q.record(i));
    body["records"] = std::move(records);
    return JsonReply(200, body);
  }

  Reply Limits() {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t used = daily_used_ + (options_.limits_call_counts ? 1 : 0);
    int64_t remaining = std::max<int64_t>(0, options_.daily_limit - used);
    ojson daily = {{"Max", options_.daily_limit}, {"Remaining", remaining}};
    daily["Salesforce CLI"] = {{"Max", 0}, {"Remaining", 0}};
    daily["cloudaware_exporter"] = {{"Max", 0}, {"Remaining", 0}};
    return JsonReply(
        200,
        ojson{{"ConcurrentAsyncGetReportInstances",
               {{"Max", 200}, {"Remaining", 200}}},
              {"ConcurrentSyncReportRuns", {{"Max", 20}, {"Remaining", 20}}},
              {"DailyApiRequests", daily},
              {"DailyAsyncApexExecutions",
               {{"Max", 250000}, {"Remaining", 250000}}},
              {"DailyBulkApiBatches", {{"Max", 15000}, {"Remaining", 15000}}},
              {"DailyBulkV2QueryJobs", {{"Max", 10000}, {"Remaining", 10000}}},
              {"DataStorageMB", {{"Max", 5120}, {"Remaining", 4100}}},
              {"FileStorageMB", {{"Max", 20480}, {"Remaining", 20000}}}});
  }

  // A subrequest: the REST routing without HTTP, auth or charging.
  Reply SubRequest(const Call& parent, const std::string& method,
                   const std::string& url) {
    Call sub;
    sub.method = method;
    sub.headers = parent.headers;
    sub.secure = parent.secure;
    size_t q = url.find('?');
    sub.path = url.substr(0, q);
    if (q != std::string::npos) sub.params = ParseForm(url.substr(q + 1));
    auto data = SplitDataPath(sub.path);
    if (!data) {
      return RestError(404, "NOT_FOUND",
                       "The requested resource does not exist");
    }

    std::string kind = Classify(sub.path);
    std::optional<Fault> fault;
    int64_t latency_ms = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      PickSubrequestFault(kind, fault, latency_ms);
    }
    if (latency_ms > 0) Sleep(milliseconds(latency_ms));
    if (fault)
      return RestError(fault->status, fault->error_code, fault->message);
    return Route(sub, data->version, data->rest, /*in_composite=*/true);
  }

  // Under mu_. Only rules naming the subrequest's endpoint apply, and only
  // latency and JSON errors make sense inside a composite body.
  void PickSubrequestFault(const std::string& kind, std::optional<Fault>& fault,
                           int64_t& latency_ms) {
    for (auto it = faults_.begin(); it != faults_.end();) {
      if (it->endpoint != kind ||
          (it->type != "latency" && it->type != "error") ||
          (it->type == "error" && fault)) {
        ++it;
        continue;
      }
      if (it->type == "latency") {
        latency_ms += it->min_ms;
      } else {
        fault = *it;
      }
      if (it->remaining > 0 && --it->remaining == 0) {
        it = faults_.erase(it);
      } else {
        ++it;
      }
    }
  }

  static ojson BodyJson(const Reply& r) {
    if (r.body.empty()) return nullptr;
    ojson j = ojson::parse(r.body, nullptr, false);
    return j.is_discarded() ? ojson(r.body) : j;
  }

  Reply Composite(const Call& call, const std::string& version) {
    json body = json::parse(call.body, nullptr, false);
    if (body.is_discarded()) {
      return RestError(400, "JSON_PARSER_ERROR",
                       "Unexpected character in the request body");
    }
    if (!body.is_object() || !body.contains("compositeRequest") ||
        !body["compositeRequest"].is_array()) {
      return RestError(400, "INVALID_INPUT", "compositeRequest is required");
    }
    const json& subs = body["compositeRequest"];
    bool all_or_none = body.value("allOrNone", false);
    if (subs.empty() || subs.size() > kCompositeMaxSubrequests) {
      // Unverified code and message: the limit itself is documented for
      // /composite (at most 5 query subrequests).
      return RestError(
          400, "LIMIT_EXCEEDED",
          "A composite request must have from 1 to 25 subrequests");
    }
    int queries = 0;
    for (const json& s : subs) {
      if (!s.is_object() || !s.value("url", json()).is_string() ||
          !s.value("referenceId", json()).is_string()) {
        return RestError(400, "INVALID_INPUT",
                         "Every subrequest needs method, url and referenceId");
      }
      std::string kind = Classify(s["url"].get<std::string>().substr(
          0, s["url"].get<std::string>().find('?')));
      if (kind == "query" || kind == "query_more") ++queries;
    }
    if (queries > kCompositeMaxQueries) {
      return RestError(
          400, "LIMIT_EXCEEDED",
          "A composite request can have at most 5 query operations");
    }
    ojson results = ojson::array();
    bool failed = false;
    for (const json& s : subs) {
      std::string method = s.value("method", "GET");
      Reply r = SubRequest(call, method, s["url"].get<std::string>());
      failed = failed || r.status >= 400;
      results.push_back({{"body", BodyJson(r)},
                         {"httpHeaders", ojson::object()},
                         {"httpStatusCode", r.status},
                         {"referenceId", s["referenceId"].get<std::string>()}});
    }
    if (all_or_none && failed) {
      for (auto& r : results) {
        if (r["httpStatusCode"].get<int>() < 400) {
          r["httpStatusCode"] = 400;
          r["body"] = ojson::array({{{"errorCode", "PROCESSING_HALTED"},
                                     {"message",
                                      "The transaction was rolled back since "
                                      "another operation in the same "
                                      "transaction failed."}}});
        }
      }
    }
    Reply out = JsonReply(200, ojson{{"compositeResponse", results}});
    out.cost = 1;  // the whole composite request is one call (Salesforce's
                   // /composite resource)
    (void)version;
    return out;
  }

  Reply Batch(const Call& call, const std::string& version) {
    json body = json::parse(call.body, nullptr, false);
    if (body.is_discarded()) {
      return RestError(400, "JSON_PARSER_ERROR",
                       "Unexpected character in the request body");
    }
    if (!body.is_object() || !body.contains("batchRequests") ||
        !body["batchRequests"].is_array()) {
      return RestError(400, "INVALID_INPUT", "batchRequests is required");
    }
    const json& subs = body["batchRequests"];
    if (subs.empty() || subs.size() > kCompositeMaxSubrequests) {
      return RestError(400, "LIMIT_EXCEEDED",
                       "A batch request must have from 1 to 25 subrequests");
    }
    bool halt = body.value("haltOnError", false);
    bool halted = false, has_errors = false;
    int executed = 0;
    ojson results = ojson::array();
    for (const json& s : subs) {
      if (halted) {
        results.push_back(
            {{"statusCode", 412},
             {"result",
              ojson::array(
                  {{{"errorCode", "BATCH_PROCESSING_HALTED"},
                    {"message", "Batch processing halted per request"}}})}});
        continue;
      }
      if (!s.is_object() || !s.value("url", json()).is_string()) {
        return RestError(400, "INVALID_INPUT",
                         "Every batch subrequest needs method and url");
      }
      // Batch URLs are relative to /services/data/ ("v66.0/query?q=...").
      std::string url = s["url"].get<std::string>();
      if (url.rfind("/services/data/", 0) != 0) {
        url =
            "/services/data/" + (url.rfind('/', 0) == 0 ? url.substr(1) : url);
      }
      std::string method = s.value("method", "GET");
      Reply r = url.find("/limits") != std::string::npos && method == "GET"
                    ? Limits()
                    : SubRequest(call, method, url);
      ++executed;
      if (r.status >= 400) {
        has_errors = true;
        halted = halt;
      }
      results.push_back({{"statusCode", r.status}, {"result", BodyJson(r)}});
    }
    Reply out =
        JsonReply(200, ojson{{"hasErrors", has_errors}, {"results", results}});
    out.cost = executed;  // each subrequest is a call (Salesforce's
                          // /composite/batch resource)
    (void)version;
    return out;
  }

  std::string LimitInfoLocked() const {
    return "api-usage=" + std::to_string(daily_used_) + "/" +
           std::to_string(options_.daily_limit);
  }

  void Log(const Call& call, const std::string& kind, const Reply& reply) {
    if (log_.size() >= kMaxLogEntries) log_.pop_front();
    log_.push_back(
        {{"seq", ++log_seq_},
         {"time_ms", WallMs()},
         {"method", call.method},
         {"path", call.path},
         {"host", call.Header("host")},
         {"endpoint", kind},
         {"status", reply.reset ? 0 : reply.status},
         {"counted", reply.cost > 0},
         {"cost", reply.cost},
         {"fault", reply.fault.empty() ? json() : json(reply.fault)},
         // The SOQL of a query, decoded, so tests can read what was asked.
         {"q", call.HasParam("q") ? json(call.Param("q")) : json()}});
  }

  // --- control API ---------------------------------------------------------

  Reply Control(const Call& call) {
    const std::string& p = call.path;
    const std::string& m = call.method;
    try {
      if (p == "/_sim/requests" && m == "GET")
        return JsonReply(200, RequestLog());
      if (p == "/_sim/requests" && m == "DELETE") {
        ClearRequestLog();
        return JsonReply(200, ojson{{"cleared", true}});
      }
      if (p == "/_sim/stats" && m == "GET") return JsonReply(200, Stats());
      if (p == "/_sim/faults" && m == "GET") {
        std::lock_guard<std::mutex> lock(mu_);
        ojson list = ojson::array();
        for (const Fault& f : faults_)
          list.push_back(ojson::parse(f.spec.dump()));
        return JsonReply(200, ojson{{"faults", list},
                                    {"concurrency_cap", concurrency_cap_}});
      }
      if (p == "/_sim/faults" && m == "POST") {
        json body = json::parse(call.body, nullptr, false);
        if (body.is_discarded()) {
          return JsonReply(400, ojson{{"error", "request body is not JSON"}});
        }
        if (body.is_object() && body.contains("faults")) body = body["faults"];
        AddFaults(body);
        return JsonReply(200,
                         ojson{{"added", body.is_array() ? body.size() : 1}});
      }
      if (p == "/_sim/faults" && m == "DELETE") {
        ClearFaults();
        return JsonReply(200, ojson{{"cleared", true}});
      }
      if (p == "/_sim/config" && m == "POST") {
        json body = json::parse(call.body, nullptr, false);
        if (body.is_discarded()) {
          return JsonReply(400, ojson{{"error", "request body is not JSON"}});
        }
        Configure(body);
        return JsonReply(200, ojson{{"configured", true}});
      }
      if (p == "/_sim/tokens/expire" && m == "POST") {
        ExpireAllTokens();
        return JsonReply(200, ojson{{"expired", true}});
      }
      if (p == "/_sim/inventory" && m == "GET") {
        Reply r;
        r.body = inventory()->ToJson().dump();
        return r;
      }
      if (p == "/_sim/inventory" && m == "POST") {
        json body = json::parse(call.body, nullptr, false);
        if (body.is_discarded()) {
          return JsonReply(400, ojson{{"error", "request body is not JSON"}});
        }
        auto inv = std::make_shared<const Inventory>(Inventory::FromJson(body));
        size_t n = inv->TotalRecords();
        SetInventory(std::move(inv));
        return JsonReply(200, ojson{{"records", n}});
      }
    } catch (const std::exception& e) {
      return JsonReply(400, ojson{{"error", e.what()}});
    }
    return JsonReply(
        404, ojson{{"error", "no such control endpoint: " + m + " " + p},
                   {"endpoints",
                    {"GET|DELETE /_sim/requests", "GET /_sim/stats",
                     "GET|POST|DELETE /_sim/faults", "POST /_sim/config",
                     "POST /_sim/tokens/expire", "GET|POST /_sim/inventory"}}});
  }

  // Shuts down accepted connections on our port (see Stop).
  void ShutdownConnections() {
    for (int fd = 0; fd < 4096; ++fd) {
      sockaddr_storage local{}, peer{};
      socklen_t ll = sizeof local, pl = sizeof peer;
      if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll) != 0)
        continue;
      if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) != 0)
        continue;
      if (local.ss_family != AF_INET) continue;
      if (ntohs(reinterpret_cast<sockaddr_in&>(local).sin_port) == port_) {
        shutdown(fd, SHUT_RDWR);
      }
    }
  }

  SimulatorOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = -1;
  bool secure_ = false;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  uint64_t fault_generation_ = 0;
  std::shared_ptr<const Inventory> inventory_;
  std::vector<Fault> faults_;
  int concurrency_cap_ = 0;
  int in_flight_ = 0;
  std::unordered_map<std::string, Session> sessions_;
  std::deque<Clock::time_point> logins_;
  int64_t logins_total_ = 0;
  int64_t token_requests_total_ = 0;
  int64_t daily_used_ = options_.daily_used;
  std::map<std::string, std::shared_ptr<Cursor>> cursors_;
  std::deque<std::string> cursor_order_;
  uint64_t cursor_seq_ = 0;
  std::deque<json> log_;
  uint64_t log_seq_ = 0;
  std::map<std::string, int64_t> requests_by_kind_;
  std::map<std::string, int64_t> calls_by_kind_;
  std::mt19937_64 rng_{std::random_device{}()};
};

Simulator::Simulator(SimulatorOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
Simulator::~Simulator() { impl_->Stop(); }
void Simulator::Start() { impl_->Start(); }
void Simulator::Stop() { impl_->Stop(); }
int Simulator::port() const { return impl_->port(); }
std::string Simulator::base_url() const { return impl_->base_url(); }
void Simulator::AddFaults(const nlohmann::json& faults) {
  impl_->AddFaults(faults);
}
void Simulator::ClearFaults() { impl_->ClearFaults(); }
void Simulator::ExpireAllTokens() { impl_->ExpireAllTokens(); }
void Simulator::SetInventory(std::shared_ptr<const Inventory> inventory) {
  impl_->SetInventory(std::move(inventory));
}
std::shared_ptr<const Inventory> Simulator::inventory() const {
  return impl_->inventory();
}
void Simulator::Configure(const nlohmann::json& settings) {
  impl_->Configure(settings);
}
nlohmann::json Simulator::RequestLog() const { return impl_->RequestLog(); }
void Simulator::ClearRequestLog() { impl_->ClearRequestLog(); }
nlohmann::json Simulator::Stats() const { return impl_->Stats(); }

}  // namespace cmdb_simulator
