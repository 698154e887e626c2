// The simulator over real HTTP(S) on loopback, checked against the API
// reference (shared/reference/cmdb-api.md): endpoints, error shapes,
// accounting and faults.
#include "simulator/simulator.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/hmac.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "simulator/inventory.h"

namespace cmdb_simulator {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr char kEc2[] = "CA10__CaAwsInstance__c";
constexpr char kForm[] = "application/x-www-form-urlencoded";

std::shared_ptr<const Inventory> TestInventory() {
  static auto inv = [] {
    GenerateOptions options;
    options.records = 3000;
    options.seed = 7;
    return std::make_shared<const Inventory>(Inventory::Generate(options));
  }();
  return inv;
}

class SimulatorTest : public ::testing::Test {
 protected:
  void SetUp() override { StartWith({}); }

  void StartWith(SimulatorOptions options) {
    if (sim_) sim_->Stop();
    if (!options.inventory) options.inventory = TestInventory();
    sim_ = std::make_unique<Simulator>(std::move(options));
    sim_->Start();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", sim_->port());
    client_->set_read_timeout(10, 0);
  }

  httplib::Result TokenRequest(const std::string& body,
                               const httplib::Headers& headers = {}) {
    return client_->Post("/services/oauth2/token", headers, body, kForm);
  }

  std::string Token() {
    auto res = TokenRequest(
        "grant_type=client_credentials&client_id=sim-client-id&client_secret="
        "sim-client-secret");
    EXPECT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200) << res->body;
    return json::parse(res->body)["access_token"].get<std::string>();
  }

  httplib::Result Get(const std::string& path, const std::string& token,
                      httplib::Headers headers = {}) {
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    return client_->Get(path.c_str(), headers);
  }

  httplib::Result Query(const std::string& soql, const std::string& token,
                        httplib::Headers headers = {}) {
    return Get("/services/data/v66.0/query?q=" +
                   httplib::detail::encode_query_param(soql),
               token, std::move(headers));
  }

  httplib::Result PostJson(const std::string& path, const std::string& token,
                           const json& body) {
    httplib::Headers h;
    if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
    return client_->Post(path.c_str(), h, body.dump(), "application/json");
  }

  int64_t DailyUsed() { return sim_->Stats()["daily_used"].get<int64_t>(); }

  std::unique_ptr<Simulator> sim_;
  std::unique_ptr<httplib::Client> client_;
};

void ExpectRestError(const httplib::Result& res, int status,
                     const std::string& code) {
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, status) << res->body;
  json body = json::parse(res->body, nullptr, false);
  ASSERT_TRUE(body.is_array()) << res->body;
  ASSERT_EQ(body.size(), 1u);
  EXPECT_EQ(body[0]["errorCode"], code) << res->body;
  EXPECT_TRUE(body[0]["message"].is_string());
}

void ExpectOAuthError(const httplib::Result& res, int status,
                      const std::string& error,
                      const std::string& description) {
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, status) << res->body;
  json body = json::parse(res->body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << res->body;
  EXPECT_EQ(body["error"], error) << res->body;
  EXPECT_EQ(body["error_description"], description) << res->body;
}

// Live EC2 instances per state, counted straight from the storage.
std::map<std::string, int64_t> LiveStatesByHand(const Inventory& inv) {
  const Table* t = inv.FindTable(kEc2);
  const Column& state = t->column("CA10__stateName__c");
  const Column& gone = t->column("CA10__disappearanceTime__c");
  std::map<std::string, int64_t> out;
  for (size_t r = 0; r < t->rows(); ++r) {
    if (!gone.Get(r).is_null()) continue;
    Value v = state.Get(r);
    ++out[v.is_null() ? "<null>" : std::string(v.text)];
  }
  return out;
}

TEST_F(SimulatorTest, TokenWithCredentialsInBody) {
  auto res = TokenRequest(
      "grant_type=client_credentials&client_id=sim-client-id&client_secret=sim-"
      "client-secret");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json t = json::parse(res->body);
  for (const char* key :
       {"access_token", "signature", "scope", "instance_url", "id",
        "token_type", "issued_at", "api_instance_url"}) {
    EXPECT_TRUE(t[key].is_string()) << key;
  }
  EXPECT_FALSE(t.contains("refresh_token"));
  EXPECT_FALSE(t.contains("expires_in"));
  EXPECT_EQ(t["token_type"], "Bearer");
  EXPECT_EQ(t["instance_url"], sim_->base_url());
  std::string issued = t["issued_at"];
  EXPECT_EQ(issued.size(), 13u) << "issued_at is in milliseconds";
  EXPECT_NEAR(std::stod(issued) / 1000,
              std::chrono::duration<double>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count(),
              60);
  EXPECT_EQ(t["id"].get<std::string>().rfind(sim_->base_url() + "/id/00D", 0),
            0u);

  // signature = base64(HMAC-SHA256(id + issued_at, client secret)).
  std::string msg = t["id"].get<std::string>() + issued;
  unsigned char mac[32];
  unsigned int len = 0;
  std::string key = "sim-client-secret";
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac,
       &len);
  std::string b64(45, '\0');
  b64.resize(static_cast<size_t>(
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), mac,
                      static_cast<int>(len))));
  EXPECT_EQ(t["signature"], b64);
}

TEST_F(SimulatorTest, TokenWithBasicAuth) {
  client_->set_basic_auth("sim-client-id", "sim-client-secret");
  auto res = TokenRequest("grant_type=client_credentials");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  client_->set_basic_auth("sim-client-id", "wrong");
  ExpectOAuthError(TokenRequest("grant_type=client_credentials"), 400,
                   "invalid_client", "invalid client credentials");
}

TEST_F(SimulatorTest, TokenErrorsOfTheReference) {
  const std::string good =
      "grant_type=client_credentials&client_id=sim-client-id&client_secret=";
  ExpectOAuthError(TokenRequest(good + "wrong"), 400, "invalid_client",
                   "invalid client credentials");
  ExpectOAuthError(
      TokenRequest(
          "grant_type=client_credentials&client_id=nobody&client_secret=x"),
      400, "invalid_client_id", "client identifier invalid");
  ExpectOAuthError(TokenRequest("grant_type=password&client_id=sim-client-id"),
                   400, "unsupported_grant_type", "grant type not supported");
  ExpectOAuthError(client_->Post("/services/oauth2/token",
                                 R"({"grant_type":"client_credentials"})",
                                 "application/json"),
                   400, "unsupported_grant_type", "grant type not supported");
  ExpectOAuthError(TokenRequest(good + "sim-client-secret",
                                {{"Host", "login.salesforce.com"}}),
                   400, "invalid_grant",
                   "request not supported on this domain");
  sim_->Configure({{"run_as_user", false}});
  ExpectOAuthError(TokenRequest(good + "sim-client-secret"), 400,
                   "invalid_grant", "no client credentials user enabled");
  sim_->Configure({{"run_as_user", true}});

  // Every other OAuth error of the token endpoint can be injected.
  for (const auto& [error, description] :
       std::vector<std::pair<std::string, std::string>>{
           {"invalid_grant", "user hasn't approved this consumer"},
           {"invalid_grant", "expired access/refresh token"},
           {"invalid_grant", "authentication failure"},
           {"inactive_user", "user is inactive"},
           {"inactive_org", "organization is locked, closed or suspended"},
           {"rate_limit_exceeded", "rate limit exceeded"},
           {"invalid_request", "invalid request"},
           {"invalid_scope", "the requested scope is not allowed"},
           {"unsupported_response_type", "response type not supported"}}) {
    sim_->AddFaults({{"type", "oauth_error"},
                     {"error", error},
                     {"error_description", description},
                     {"times", 1}});
    ExpectOAuthError(TokenRequest(good + "sim-client-secret"), 400, error,
                     description);
  }
  sim_->AddFaults({{"type", "wrong_host"}, {"times", 1}});
  ExpectOAuthError(TokenRequest(good + "sim-client-secret"), 400,
                   "invalid_grant", "request not supported on this domain");
  EXPECT_EQ(Token().empty(), false) << "faults with times=1 are used up";
}

TEST_F(SimulatorTest, CountsLoginsAndLimitsTheirRate) {
  sim_->Configure({{"logins_per_hour", 3}});
  for (int i = 0; i < 3; ++i) Token();
  ExpectOAuthError(TokenRequest("grant_type=client_credentials&client_id=sim-"
                                "client-id&client_secret=sim-client-secret"),
                   400, "rate_limit_exceeded", "rate limit exceeded");
  json stats = sim_->Stats();
  EXPECT_EQ(stats["logins"], 3);
  EXPECT_EQ(stats["token_requests"], 4);
}

TEST_F(SimulatorTest, TokensExpireWhenIdleAndUseKeepsThemAlive) {
  sim_->Configure({{"token_idle_timeout", "400ms"}});
  std::string token = Token();
  for (int i = 0; i < 5; ++i) {  // 750 ms in all, never idle for 400 ms
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    auto res = Get("/services/data/v66.0/limits", token);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << "use " << i << " " << res->body;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  auto res = Get("/services/data/v66.0/limits", token);
  ExpectRestError(res, 401, "INVALID_SESSION_ID");
  EXPECT_EQ(json::parse(res->body)[0]["message"], "Session expired or invalid");
}

TEST_F(SimulatorTest, UnknownOrMissingTokensAreRejected) {
  ExpectRestError(Get("/services/data/v66.0/limits", ""), 401,
                  "INVALID_SESSION_ID");
  ExpectRestError(Get("/services/data/v66.0/limits", "00Dbogus!token"), 401,
                  "INVALID_SESSION_ID");
  std::string token = Token();
  sim_->ExpireAllTokens();
  ExpectRestError(Get("/services/data/v66.0/limits", token), 401,
                  "INVALID_SESSION_ID");
}

TEST_F(SimulatorTest, RevokeAndIntrospect) {
  std::string token = Token();
  const std::string auth =
      "client_id=sim-client-id&client_secret=sim-client-secret";
  auto res =
      client_->Post("/services/oauth2/introspect",
                    "token=" + httplib::detail::encode_query_param(token) +
                        "&token_type_hint=access_token&" + auth,
                    kForm);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json info = json::parse(res->body);
  EXPECT_EQ(info["active"], true);
  EXPECT_EQ(info["client_id"], "sim-client-id");
  EXPECT_EQ(info["token_type"], "access_token");
  EXPECT_TRUE(info["exp"].is_number_integer());
  EXPECT_GT(info["exp"].get<int64_t>(), info["iat"].get<int64_t>());

  ExpectOAuthError(
      client_->Post("/services/oauth2/introspect",
                    "token=x&client_id=sim-client-id&client_secret=bad", kForm),
      400, "invalid_client", "invalid client credentials");

  res = client_->Post("/services/oauth2/revoke",
                      "token=" + httplib::detail::encode_query_param(token),
                      kForm);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  ExpectRestError(Get("/services/data/v66.0/limits", token), 401,
                  "INVALID_SESSION_ID");
  res = client_->Post(
      "/services/oauth2/introspect",
      "token=" + httplib::detail::encode_query_param(token) + "&" + auth,
      kForm);
  ASSERT_TRUE(res);
  EXPECT_EQ(json::parse(res->body), json({{"active", false}}));
  ExpectOAuthError(
      client_->Post("/services/oauth2/revoke",
                    "token=" + httplib::detail::encode_query_param(token),
                    kForm),
      400, "invalid_token", "invalid token");
}

TEST_F(SimulatorTest, VersionsAreFreeAndNeedNoToken) {
  auto res = Get("/services/data/", "");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_FALSE(res->has_header("Sforce-Limit-Info"));
  json versions = json::parse(res->body);
  ASSERT_TRUE(versions.is_array());
  json spring26 = {{"label", "Spring '26"},
                   {"url", "/services/data/v66.0"},
                   {"version", "66.0"}};
  EXPECT_NE(std::find(versions.begin(), versions.end(), spring26),
            versions.end());
  EXPECT_EQ(versions.back()["label"], "Winter '27");
  EXPECT_EQ(DailyUsed(), 0);
}

TEST_F(SimulatorTest, ResourcesUnknownAndRetiredVersions) {
  std::string token = Token();
  auto res = Get("/services/data/v66.0/", token);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  json resources = json::parse(res->body);
  EXPECT_EQ(resources["query"], "/services/data/v66.0/query");
  EXPECT_EQ(resources["composite"], "/services/data/v66.0/composite");
  ExpectRestError(Get("/services/data/v99.0/", token), 404, "NOT_FOUND");
  ExpectRestError(Get("/services/data/vbanana/limits", token), 404,
                  "NOT_FOUND");
  auto gone =
      Get("/services/data/v25.0/query?q=SELECT+Id+FROM+CA10__CaAwsInstance__c",
          token);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status, 410);
  ExpectRestError(Get("/services/data/v66.0/nothing-here", token), 404,
                  "NOT_FOUND");
}

TEST_F(SimulatorTest, GroupedCountMatchesTheInventory) {
  std::string token = Token();
  auto res = Query(
      "SELECT CA10__stateName__c state, COUNT(Id) n FROM "
      "CA10__CaAwsInstance__c "
      "WHERE CA10__disappearanceTime__c = null GROUP BY CA10__stateName__c "
      "LIMIT 2000",
      token);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json body = json::parse(res->body);
  auto expected = LiveStatesByHand(*TestInventory());
  ASSERT_GE(expected.size(), 3u);
  ASSERT_TRUE(expected.count("<null>")) << "the generator makes null states";
  EXPECT_EQ(body["done"], true);
  EXPECT_EQ(body["totalSize"], expected.size());
  std::map<std::string, int64_t> got;
  for (const json& r : body["records"]) {
    EXPECT_EQ(r["attributes"], json({{"type", "AggregateResult"}}));
    got[r["state"].is_null() ? "<null>" : r["state"].get<std::string>()] =
        r["n"];
  }
  EXPECT_EQ(got, expected);
}

TEST_F(SimulatorTest, CountOnlyUsesTotalSize) {
  std::string token = Token();
  auto res = Query(
      "SELECT COUNT() FROM CA10__CaAwsInstance__c WHERE "
      "CA10__disappearanceTime__c = null",
      token);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json body = json::parse(res->body);
  int64_t live = 0;
  for (const auto& [state, n] : LiveStatesByHand(*TestInventory())) live += n;
  EXPECT_EQ(body["totalSize"], live);
  EXPECT_EQ(body["records"], json::array());
  EXPECT_EQ(body["done"], true);
}

TEST_F(SimulatorTest, RelationshipGroupByIsFlatAndAliased) {
  std::string token = Token();
  auto res = Query(
      "SELECT CA10__account__r.CA10__accountId__c acct, COUNT(Id) n FROM "
      "CA10__CaAwsInstance__c GROUP BY CA10__account__r.CA10__accountId__c",
      token);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  // By hand: instance -> account row -> account id.
  auto inv = TestInventory();
  const Table* ec2 = inv->FindTable(kEc2);
  const Table* accounts = inv->FindTable("CA10__CaAwsAccount__c");
  std::map<std::string, int64_t> expected;
  for (size_t r = 0; r < ec2->rows(); ++r) {
    Value ref = ec2->column("CA10__account__c").Get(r);
    auto row = ref.is_null() ? std::nullopt : accounts->FindById(ref.text);
    Value id =
        row ? accounts->column("CA10__accountId__c").Get(*row) : Value::Null();
    ++expected[id.is_null() ? "<null>" : std::string(id.text)];
  }
  std::map<std::string, int64_t> got;
  json body = json::parse(res->body);
  for (const json& r : body["records"]) {
    EXPECT_FALSE(r.contains("CA10__account__r"));
    got[r["acct"].is_null() ? "<null>" : r["acct"].get<std::string>()] = r["n"];
  }
  EXPECT_EQ(got, expected);
}

TEST_F(SimulatorTest, PagesNonAggregateQueriesWithBatchSize) {
  std::string token = Token();
  const Table* ec2 = TestInventory()->FindTable(kEc2);
  ASSERT_GT(ec2->rows(), 400u) << "need at least three pages of 200";
  int64_t before = DailyUsed();
  std::set<std::string> ids;
  auto res = Query("SELECT Id, Name FROM CA10__CaAwsInstance__c", token,
                   {{"Sforce-Query-Options", "batchSize=200"}});
  int pages = 0;
  for (; pages < 100; ++pages) {
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    json body = json::parse(res->body);
    EXPECT_EQ(body["totalSize"], ec2->rows());
    EXPECT_LE(body["records"].size(), 200u);
    for (const json& r : body["records"]) {
      EXPECT_EQ(r["attributes"]["type"], kEc2);
      ids.insert(r["Id"].get<std::string>());
    }
    if (body["done"] == true) {
      EXPECT_FALSE(body.contains("nextRecordsUrl"));
      break;
    }
    std::string next = body["nextRecordsUrl"];
    EXPECT_EQ(next.rfind("/services/data/v66.0/query/01g", 0), 0u) << next;
    res = Get(next, token);
  }
  EXPECT_EQ(ids.size(), ec2->rows());
  EXPECT_EQ(pages + 1, static_cast<int>((ec2->rows() + 199) / 200));
  EXPECT_EQ(DailyUsed() - before, pages + 1) << "every page is one call";

  // batchSize is clamped to 200..2000.
  res = Query("SELECT Id FROM CA10__CaAwsInstance__c", token,
              {{"Sforce-Query-Options", "batchSize=5"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(json::parse(res->body)["records"].size(), 200u);
  ExpectRestError(Get("/services/data/v66.0/query/01gSIMnope-200", token), 400,
                  "INVALID_QUERY_LOCATOR");
}

TEST_F(SimulatorTest, AggregateOverTwoThousandRowsFails) {
  GenerateOptions gen;
  gen.records = 2600;
  gen.only_objects = {kEc2};
  auto big = std::make_shared<const Inventory>(Inventory::Generate(gen));
  ASSERT_GT(big->FindTable(kEc2)->rows(), 2000u);
  sim_->SetInventory(big);
  std::string token = Token();
  const std::string soql =
      "SELECT Id, COUNT(Name) FROM CA10__CaAwsInstance__c GROUP BY Id";
  auto res = Query(soql, token);
  ExpectRestError(res, 400, "MALFORMED_QUERY");
  EXPECT_NE(res->body.find("Aggregate query does not support queryMore()"),
            std::string::npos);
  auto limited = Query(soql + " LIMIT 2000", token);
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 200);
  EXPECT_EQ(json::parse(limited->body)["records"].size(), 2000u);

  sim_->Configure({{"aggregate_overflow", "truncate"}});
  res = Query(soql, token);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  json body = json::parse(res->body);
  EXPECT_EQ(body["done"], false);
  EXPECT_EQ(body["records"].size(), 2000u);
  ExpectRestError(Get(body["nextRecordsUrl"], token), 400, "MALFORMED_QUERY");
}

TEST_F(SimulatorTest, QueryErrors) {
  std::string token = Token();
  ExpectRestError(Query("SELECT Id FRM CA10__CaAwsInstance__c", token), 400,
                  "MALFORMED_QUERY");
  ExpectRestError(Query("SELECT Foo__c FROM CA10__CaAwsInstance__c", token),
                  400, "INVALID_FIELD");
  auto res = Query("SELECT Id FROM Bogus__c", token);
  ExpectRestError(res, 400, "INVALID_TYPE");
  EXPECT_NE(res->body.find("sObject type 'Bogus__c' is not supported"),
            std::string::npos);
  ExpectRestError(Get("/services/data/v66.0/query", token), 400,
                  "MALFORMED_QUERY");
  ExpectRestError(Get("/services/data/v66.0/query?q=", token), 400,
                  "MALFORMED_QUERY");
}

TEST_F(SimulatorTest, LimitsAndTheLimitInfoHeader) {
  std::string token = Token();
  auto res = Get("/services/data/v66.0/limits", token);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Sforce-Limit-Info"), "api-usage=1/100000");
  json limits = json::parse(res->body);
  EXPECT_EQ(limits["DailyApiRequests"]["Max"], 100000);
  EXPECT_EQ(limits["DailyApiRequests"]["Remaining"], 99999);
  EXPECT_TRUE(limits["DailyApiRequests"]["Salesforce CLI"].is_object());
  EXPECT_TRUE(limits["DataStorageMB"]["Max"].is_number());

  res = Query("SELECT COUNT() FROM CA10__CaAwsInstance__c", token);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->get_header_value("Sforce-Limit-Info"), "api-usage=2/100000");
  res = Query("SELECT Nope FROM CA10__CaAwsInstance__c", token);
  ASSERT_TRUE(res);
  EXPECT_TRUE(res->has_header("Sforce-Limit-Info"));
}

TEST_F(SimulatorTest, SpentAllocationIsRefused) {
  sim_->Configure({{"daily_limit", 3}});
  std::string token = Token();
  for (int i = 0; i < 3; ++i) {
    auto res = Query("SELECT COUNT() FROM CA10__CaAwsInstance__c", token);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << i;
  }
  auto res = Query("SELECT COUNT() FROM CA10__CaAwsInstance__c", token);
  ExpectRestError(res, 403, "REQUEST_LIMIT_EXCEEDED");
  EXPECT_EQ(json::parse(res->body)[0]["message"],
            "TotalRequests Limit exceeded.");
  EXPECT_EQ(DailyUsed(), 3) << "refused calls are not charged";

  sim_->Configure({{"daily_limit", 100}, {"daily_used", 0}});
  sim_->AddFaults({{"type", "exhaust_daily_limit"}});
  ExpectRestError(Query("SELECT COUNT() FROM CA10__CaAwsInstance__c", token),
                  403, "REQUEST_LIMIT_EXCEEDED");
}

TEST_F(SimulatorTest, CompositeIsOneCallWithIsolatedSubrequests) {
  std::string token = Token();
  json req = {{"allOrNone", false}, {"compositeRequest", json::array()}};
  const std::vector<std::string> soql = {
      "SELECT COUNT() FROM CA10__CaAwsInstance__c",
      "SELECT CA10__stateName__c s, COUNT(Id) n FROM CA10__CaAwsInstance__c "
      "GROUP BY "
      "CA10__stateName__c",
      "SELECT Id FRM Broken"};
  for (size_t i = 0; i < soql.size(); ++i) {
    req["compositeRequest"].push_back(
        {{"method", "GET"},
         {"url", "/services/data/v66.0/query?q=" +
                     httplib::detail::encode_query_param(soql[i])},
         {"referenceId", "q" + std::to_string(i)}});
  }
  int64_t before = DailyUsed();
  auto res = PostJson("/services/data/v66.0/composite", token, req);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(DailyUsed() - before, 1);
  json out = json::parse(res->body)["compositeResponse"];
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0]["referenceId"], "q0");
  EXPECT_EQ(out[0]["httpStatusCode"], 200);
  EXPECT_EQ(out[0]["body"]["totalSize"],
            TestInventory()->FindTable(kEc2)->rows());
  EXPECT_TRUE(out[0]["httpHeaders"].is_object());
  EXPECT_EQ(out[1]["httpStatusCode"], 200);
  EXPECT_GE(out[1]["body"]["records"].size(), 3u);
  EXPECT_EQ(out[2]["httpStatusCode"], 400);
  EXPECT_EQ(out[2]["body"][0]["errorCode"], "MALFORMED_QUERY");

  // At most five queries, at most 25 subrequests.
  json six = req;
  six["compositeRequest"] = json::array();
  for (int i = 0; i < 6; ++i) {
    six["compositeRequest"].push_back(
        {{"method", "GET"},
         {"url",
          "/services/data/v66.0/query?q=SELECT+COUNT()+FROM+"
          "CA10__CaAwsInstance__c"},
         {"referenceId", "r" + std::to_string(i)}});
  }
  ExpectRestError(PostJson("/services/data/v66.0/composite", token, six), 400,
                  "LIMIT_EXCEEDED");
  json many = six;
  many["compositeRequest"] = json::array();
  for (int i = 0; i < 26; ++i) {
    many["compositeRequest"].push_back(
        {{"method", "GET"},
         {"url", "/services/data/v66.0/sobjects"},
         {"referenceId", "r" + std::to_string(i)}});
  }
  ExpectRestError(PostJson("/services/data/v66.0/composite", token, many), 400,
                  "LIMIT_EXCEEDED");
  ExpectRestError(client_->Post("/services/data/v66.0/composite",
                                {{"Authorization", "Bearer " + token}}, "{nope",
                                "application/json"),
                  400, "JSON_PARSER_ERROR");
}

TEST_F(SimulatorTest, CompositeBatchChargesEverySubrequest) {
  std::string token = Token();
  json req = {
      {"haltOnError", false},
      {"batchRequests",
       {{{"method", "GET"},
         {"url", "v66.0/query?q=SELECT+COUNT()+FROM+CA10__CaAwsInstance__c"}},
        {{"method", "GET"}, {"url", "v66.0/query?q=SELECT+Id+FRM+X"}},
        {{"method", "GET"}, {"url", "v66.0/limits"}}}}};
  int64_t before = DailyUsed();
  auto res = PostJson("/services/data/v66.0/composite/batch", token, req);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(DailyUsed() - before, 3);
  json body = json::parse(res->body);
  EXPECT_EQ(body["hasErrors"], true);
  ASSERT_EQ(body["results"].size(), 3u);
  EXPECT_EQ(body["results"][0]["statusCode"], 200);
  EXPECT_EQ(body["results"][1]["statusCode"], 400);
  EXPECT_EQ(body["results"][2]["result"]["DailyApiRequests"]["Max"], 100000);

  req["haltOnError"] = true;
  res = PostJson("/services/data/v66.0/composite/batch", token, req);
  ASSERT_TRUE(res);
  body = json::parse(res->body);
  EXPECT_EQ(body["results"][2]["statusCode"], 412);
  EXPECT_EQ(body["results"][2]["result"][0]["errorCode"],
            "BATCH_PROCESSING_HALTED");
}

TEST_F(SimulatorTest, DescribeGlobalAndObject) {
  std::string token = Token();
  auto res = Get("/services/data/v66.0/sobjects/", token);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  json global = json::parse(res->body);
  bool found = false;
  for (const json& o : global["sobjects"]) found = found || o["name"] == kEc2;
  EXPECT_TRUE(found);
  res = Get("/services/data/v66.0/sobjects/CA10__CaAwsInstance__c/describe",
            token);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  json fields = json::parse(res->body)["fields"];
  std::map<std::string, json> by_name;
  for (const json& f : fields) by_name[f["name"]] = f;
  EXPECT_EQ(by_name["CA10__stateName__c"]["groupable"], true);
  EXPECT_EQ(by_name["CA10__disappearanceTime__c"]["type"], "datetime");
  EXPECT_EQ(by_name["CA10__disappearanceTime__c"]["groupable"], false);
  EXPECT_EQ(by_name["CA10__account__c"]["referenceTo"],
            json({"CA10__CaAwsAccount__c"}));
  EXPECT_EQ(by_name["CA10__account__c"]["relationshipName"],
            "CA10__account__r");
  ExpectRestError(Get("/services/data/v66.0/sobjects/Bogus__c/describe", token),
                  404, "NOT_FOUND");
}

TEST_F(SimulatorTest, InjectedHttpErrors) {
  std::string token = Token();
  sim_->AddFaults(json::array({{{"endpoint", "query"},
                                {"type", "error"},
                                {"status", 503},
                                {"times", 1}},
                               {{"endpoint", "query"},
                                {"type", "error"},
                                {"status", 500},
                                {"times", 1}},
                               {{"endpoint", "query"},
                                {"type", "html"},
                                {"status", 502},
                                {"times", 1}}}));
  const std::string q = "SELECT COUNT() FROM CA10__CaAwsInstance__c";
  auto res = Query(q, token);
  ExpectRestError(res, 503, "SERVER_UNAVAILABLE");
  ExpectRestError(Query(q, token), 500, "UNKNOWN_EXCEPTION");
  res = Query(q, token);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 502);
  EXPECT_EQ(res->get_header_value("Content-Type").rfind("text/html", 0), 0u);
  EXPECT_NE(res->body.find("<html>"), std::string::npos);
  res = Query(q, token);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << "the three faults were used up";
  EXPECT_EQ(DailyUsed(), 1) << "injected errors are not charged";
}

TEST_F(SimulatorTest, InjectedBadBodies) {
  std::string token = Token();
  const std::string q =
      "SELECT CA10__stateName__c, COUNT(Id) FROM CA10__CaAwsInstance__c GROUP "
      "BY CA10__stateName__c";
  auto good = Query(q, token);
  ASSERT_TRUE(good);
  sim_->AddFaults({{"endpoint", "query"}, {"type", "malformed"}, {"times", 1}});
  auto res = Query(q, token);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(json::parse(res->body, nullptr, false).is_discarded());
  sim_->AddFaults({{"endpoint", "query"}, {"type", "truncated"}, {"times", 1}});
  res = Query(q, token);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, good->body.substr(0, good->body.size() / 2));
  EXPECT_TRUE(json::parse(res->body, nullptr, false).is_discarded());
}

TEST_F(SimulatorTest, InjectedResetLatencyAndHang) {
  std::string token = Token();
  const std::string q = "SELECT COUNT() FROM CA10__CaAwsInstance__c";
  sim_->AddFaults({{"endpoint", "query"}, {"type", "reset"}, {"times", 1}});
  auto res = Query(q, token);
  EXPECT_FALSE(res) << "a reset connection gives no response";

  sim_->AddFaults(
      {{"endpoint", "query"}, {"type", "latency"}, {"ms", 300}, {"times", 1}});
  auto start = Clock::now();
  res = Query(q, token);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(300));

  sim_->AddFaults({{"endpoint", "query"}, {"type", "hang"}});
  client_->set_read_timeout(0, 300000);
  res = Query(q, token);
  EXPECT_FALSE(res);
  EXPECT_EQ(res.error(), httplib::Error::Read);
  sim_->ClearFaults();
  client_->set_read_timeout(10, 0);
  res = Query(q, token);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(SimulatorTest, StopReleasesHungRequests) {
  std::string token = Token();
  sim_->AddFaults({{"endpoint", "query"}, {"type", "hang"}});
  std::thread caller(
      [&] { Query("SELECT COUNT() FROM CA10__CaAwsInstance__c", token); });
  for (int i = 0; i < 200 && sim_->Stats()["in_flight"] == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(sim_->Stats()["in_flight"], 1);
  auto start = Clock::now();
  sim_->Stop();
  caller.join();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
}

TEST_F(SimulatorTest, RejectCredentialsUntilCleared) {
  sim_->AddFaults({{"type", "reject_credentials"}});
  const std::string body =
      "grant_type=client_credentials&client_id=sim-client-id&client_secret=sim-"
      "client-secret";
  for (int i = 0; i < 3; ++i) {
    ExpectOAuthError(TokenRequest(body), 400, "invalid_client",
                     "invalid client credentials");
  }
  sim_->ClearFaults();
  EXPECT_FALSE(Token().empty());
}

TEST_F(SimulatorTest, ConcurrencyCap) {
  std::string token = Token();
  const std::string path = "/services/data/v66.0/query?q=" +
                           httplib::detail::encode_query_param(
                               "SELECT COUNT() FROM CA10__CaAwsInstance__c");
  // One request held in flight, then a second one: over a cap of one.
  sim_->AddFaults(
      json::array({{{"type", "concurrency_cap"}, {"max", 1}},
                   {{"endpoint", "query"}, {"type", "hang"}, {"times", 1}}}));
  int held_status = 0;
  std::thread held([&] {
    httplib::Client c("127.0.0.1", sim_->port());
    auto r = c.Get(path.c_str(), {{"Authorization", "Bearer " + token}});
    held_status = r ? r->status : -1;
  });
  for (int i = 0; i < 250 && sim_->Stats()["in_flight"] == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(sim_->Stats()["in_flight"], 1);
  auto res = Query("SELECT COUNT() FROM CA10__CaAwsInstance__c", token);
  ExpectRestError(res, 403, "REQUEST_LIMIT_EXCEEDED");
  EXPECT_EQ(json::parse(res->body)[0]["message"],
            "ConcurrentPerOrgLongTxn Limit exceeded.");
  sim_->ClearFaults();  // releases the held request (as a reset) and lifts the
                        // cap
  held.join();
  EXPECT_EQ(held_status, -1);
  res = Query("SELECT COUNT() FROM CA10__CaAwsInstance__c", token);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(SimulatorTest, RequestLogRecordsKindsAndCosts) {
  std::string token = Token();
  Get("/services/data/", "");
  Query("SELECT COUNT() FROM CA10__CaAwsInstance__c", token);
  Get("/services/data/v66.0/limits", "bad-token");
  client_->Get("/_sim/stats");  // control calls are not logged
  json log = sim_->RequestLog();
  ASSERT_EQ(log.size(), 4u) << log.dump();
  EXPECT_EQ(log[0]["endpoint"], "token");
  EXPECT_EQ(log[0]["counted"], false);
  EXPECT_EQ(log[1]["endpoint"], "versions");
  EXPECT_EQ(log[1]["counted"], false);
  EXPECT_EQ(log[2]["endpoint"], "query");
  EXPECT_EQ(log[2]["counted"], true);
  EXPECT_EQ(log[2]["cost"], 1);
  EXPECT_EQ(log[2]["method"], "GET");
  EXPECT_EQ(log[2]["path"], "/services/data/v66.0/query");
  EXPECT_EQ(log[2]["q"], "SELECT COUNT() FROM CA10__CaAwsInstance__c");
  EXPECT_TRUE(log[1]["q"].is_null());
  EXPECT_EQ(log[3]["status"], 401);
  EXPECT_EQ(log[3]["counted"], false);
}

TEST_F(SimulatorTest, ControlApiOverHttp) {
  auto res = client_->Post("/_sim/faults", R"({"type":"latency","ms":-5})",
                           "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(res->body.find("min_ms"), std::string::npos) << res->body;
  res = client_->Post("/_sim/faults",
                      R"([{"type":"error","status":503,"bogus":1}])",
                      "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(res->body.find("faults[0]: unknown fault field 'bogus'"),
            std::string::npos)
      << res->body;
  res = client_->Post(
      "/_sim/faults",
      R"({"faults":[{"endpoint":"query","type":"error","status":503}]})",
      "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = client_->Get("/_sim/faults");
  ASSERT_TRUE(res);
  EXPECT_EQ(json::parse(res->body)["faults"].size(), 1u);
  res = client_->Delete("/_sim/faults");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(sim_->RequestLog().empty());

  // Replace the inventory with a document of two records.
  json doc = {{"records",
               {{"CA10__CaAwsAccount__c",
                 {{{"Id", "a01SIM000000001AAA"},
                   {"CA10__accountId__c", "111122223333"}}}},
                {kEc2,
                 {{{"Id", "a02SIM000000001AAA"},
                   {"CA10__stateName__c", "running"},
                   {"CA10__account__c", "a01SIM000000001AAA"}}}}}}};
  res = client_->Post("/_sim/inventory", doc.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  std::string token = Token();
  res = Query("SELECT COUNT() FROM CA10__CaAwsInstance__c", token);
  ASSERT_TRUE(res);
  EXPECT_EQ(json::parse(res->body)["totalSize"], 1);
  res = client_->Post("/_sim/inventory", R"({"records":{"Nope__c":[]}})",
                      "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(res->body.find("Nope__c"), std::string::npos);
}

class SimulatorHttpsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string((std::filesystem::temp_directory_path() /
                            ("cmdb-sim-certs-" + std::to_string(::getpid())))
                               .string());
    std::string cmd = std::string(GEN_CERTS_SCRIPT) + " " + *dir_;
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  static std::string* dir_;
};
std::string* SimulatorHttpsTest::dir_ = nullptr;

TEST_F(SimulatorHttpsTest, TokenAndQueryOverVerifiedTls) {
  SimulatorOptions options;
  options.inventory = TestInventory();
  options.tls_cert_file = *dir_ + "/server.pem";
  options.tls_key_file = *dir_ + "/server.key";
  Simulator sim(options);
  sim.Start();
  ASSERT_EQ(sim.base_url().rfind("https://", 0), 0u);

  httplib::SSLClient client("127.0.0.1", sim.port());
  client.set_ca_cert_path((*dir_ + "/ca.pem").c_str());
  client.enable_server_certificate_verification(true);
  auto res = client.Post(
      "/services/oauth2/token",
      "grant_type=client_credentials&client_id=sim-client-id&client_secret="
      "sim-client-secret",
      kForm);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200);
  json token = json::parse(res->body);
  EXPECT_EQ(token["instance_url"].get<std::string>().rfind("https://", 0), 0u);
  res = client.Get(("/services/data/v66.0/query?q=" +
                    httplib::detail::encode_query_param(
                        "SELECT COUNT() FROM CA10__CaAwsInstance__c"))
                       .c_str(),
                   {{"Authorization",
                     "Bearer " + token["access_token"].get<std::string>()}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(json::parse(res->body)["totalSize"],
            TestInventory()->FindTable(kEc2)->rows());

  // Without the throwaway CA, verification fails.
  httplib::SSLClient untrusted("127.0.0.1", sim.port());
  untrusted.set_ca_cert_path((*dir_ + "/server.pem").c_str());
  untrusted.enable_server_certificate_verification(true);
  res = untrusted.Get("/services/data/");
  EXPECT_FALSE(res);
  EXPECT_EQ(res.error(), httplib::Error::SSLServerVerification);
}

}  // namespace
}  // namespace cmdb_simulator
