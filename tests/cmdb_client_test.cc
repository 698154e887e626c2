// The pure parts of the API client: error bodies, Sforce-Limit-Info, URLs
// and the hints for OAuth errors.
#include "exporter/cmdb/cmdb_client.h"

#include <gtest/gtest.h>

#include "exporter/cmdb/http_client.h"
#include "exporter/cmdb/token_source.h"

namespace cloudaware_exporter {
namespace {

TEST(CmdbClientTest, ParsesRestErrorsWhateverTheBody) {
  struct Case {
    int status;
    std::string body;
    std::string code;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {400,
       R"([{"message":"unexpected token: 'FRM'","errorCode":"MALFORMED_QUERY"}])",
       "MALFORMED_QUERY", "unexpected token: 'FRM'"},
      {401,
       R"([{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}])",
       "INVALID_SESSION_ID", "Session expired or invalid"},
      {403,
       R"([{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}])",
       "REQUEST_LIMIT_EXCEEDED", "TotalRequests"},
      // Several errors: the first code, every message.
      {400,
       R"([{"message":"a","errorCode":"INVALID_FIELD"},{"message":"b","errorCode":"X_Y"}])",
       "INVALID_FIELD", "INVALID_FIELD: a; X_Y: b"},
      // A single object, as some old endpoints send.
      {404,
       R"({"message":"The requested resource does not exist","errorCode":"NOT_FOUND"})",
       "NOT_FOUND", "does not exist"},
      // OAuth-style.
      {400,
       R"({"error":"invalid_grant","error_description":"authentication failure"})",
       "http_400", "invalid_grant: authentication failure"},
      // HTML from an edge proxy: the title.
      {502,
       "<html><head><title>502 Bad Gateway</title></head><body>x</body></html>",
       "http_502", "HTTP 502: 502 Bad Gateway"},
      {503, "", "http_503", "HTTP 503 with an empty body"},
      {500, "not json at all", "http_500", "not json at all"},
      // Codes that are not codes do not become label values.
      {400, R"([{"message":"m","errorCode":"lower case; and spaces"}])",
       "http_400", "m"},
      {400,
       R"([{"message":"m","errorCode":")" + std::string(100, 'A') + R"("}])",
       "http_400", "m"},
      // Too many groups for one batch: truncated, whatever the errorCode.
      {400,
       R"([{"message":"Aggregate query does not support queryMore(), use LIMIT to restrict the results to a single batch","errorCode":"MALFORMED_QUERY"}])",
       "truncated", "does not support queryMore"},
      {400, R"([1, "x", null])", "http_400", "HTTP 400"},
      {400, "[]", "http_400", "HTTP 400"},
  };
  for (const Case& c : cases) {
    CmdbError e = ParseRestError(c.status, c.body);
    EXPECT_EQ(e.code(), c.code) << c.body;
    EXPECT_EQ(e.status(), c.status);
    EXPECT_NE(std::string(e.what()).find(c.message_part), std::string::npos)
        << e.what() << " for " << c.body;
  }
  // Long bodies are cut, and newlines never reach a log line.
  CmdbError e = ParseRestError(
      502, std::string(5000, 'x') + "\n" + std::string(5000, 'y'));
  EXPECT_LT(std::string(e.what()).size(), 300u);
  EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
}

TEST(CmdbClientTest, ParsesQueryPages) {
  QueryPage agg = ParseQueryPage(
      R"({"totalSize":2,"done":true,"records":[
        {"attributes":{"type":"AggregateResult"},"s":"running","n":5},
        {"attributes":{"type":"AggregateResult"},"s":"stopped","n":1}]})");
  EXPECT_EQ(agg.total_size, 2);
  EXPECT_TRUE(agg.done);
  EXPECT_TRUE(agg.aggregate);
  EXPECT_EQ(agg.records.size(), 2u);

  QueryPage first = ParseQueryPage(
      R"({"totalSize":5000,"done":false,
          "nextRecordsUrl":"/services/data/v66.0/query/01gD-2000",
          "records":[{"attributes":{"type":"CA10__CaAwsInstance__c"},"Id":"a"}]})");
  EXPECT_FALSE(first.done);
  EXPECT_FALSE(first.aggregate);
  EXPECT_EQ(first.next_records_url, "/services/data/v66.0/query/01gD-2000");

  QueryPage count =
      ParseQueryPage(R"({"totalSize":42,"done":true,"records":[]})");
  EXPECT_EQ(count.total_size, 42);
  EXPECT_TRUE(count.records.empty());

  struct Bad {
    std::string body;
    std::string code;
    std::string message_part;
  };
  const std::vector<Bad> bad = {
      {"<html><title>Maintenance</title></html>", "parse", "not a JSON object"},
      {R"({"totalSize":1,"done":tr)", "parse", "not a JSON object (24 bytes)"},
      {"[]", "parse", "not a JSON object"},
      {R"({"totalSize":1,"done":true})", "parse", "lacks records or done"},
      {R"({"totalSize":"1","done":true,"records":[]})", "parse",
       "lacks totalSize"},
      {R"({"totalSize":1,"done":false,"records":[]})", "parse",
       "no nextRecordsUrl"},
      {R"({"totalSize":1,"done":false,"records":[],
           "nextRecordsUrl":"https://evil.example.com/x"})",
       "parse", "unexpected nextRecordsUrl https://evil.example.com/x"},
      {R"({"totalSize":2000,"done":false,"records":[
           {"attributes":{"type":"AggregateResult"},"n":1}]})",
       "truncated", "aggregate result was cut at 1 rows"},
  };
  for (const Bad& b : bad) {
    try {
      ParseQueryPage(b.body);
      ADD_FAILURE() << "accepted " << b.body;
    } catch (const CmdbError& e) {
      EXPECT_EQ(e.code(), b.code) << b.body;
      EXPECT_NE(std::string(e.what()).find(b.message_part), std::string::npos)
          << e.what();
    }
  }
}

// An aggregate body with n groups.
std::string AggregateBody(size_t n, bool done) {
  nlohmann::json records = nlohmann::json::array();
  for (size_t i = 0; i < n; ++i) {
    records.push_back({{"attributes", {{"type", "AggregateResult"}}},
                       {"name", "g" + std::to_string(i)},
                       {"n", 1}});
  }
  return nlohmann::json{{"totalSize", n}, {"done", done}, {"records", records}}
      .dump();
}

TEST(CmdbClientTest, AnAggregateResultAtTheRowCapIsTruncated) {
  struct Case {
    size_t rows;
    bool done;
    bool truncated;
  };
  const std::vector<Case> cases = {
      {1, true, false},   {1999, true, false}, {2000, true, true},
      {2001, true, true}, {1, false, true},    {2000, false, true},
  };
  for (const Case& c : cases) {
    const std::string body = AggregateBody(c.rows, c.done);
    try {
      QueryPage page = ParseQueryPage(body);
      EXPECT_FALSE(c.truncated) << c.rows << " rows accepted";
      EXPECT_EQ(page.records.size(), c.rows);
    } catch (const CmdbError& e) {
      EXPECT_TRUE(c.truncated) << c.rows << " rows: " << e.what();
      EXPECT_EQ(e.code(), "truncated") << e.what();
      EXPECT_NE(std::string(e.what()).find(std::to_string(c.rows) + " rows"),
                std::string::npos)
          << e.what();
    }
    // The composite path reads a subresponse with the same check.
    auto answers = ParseCompositeResponse(
        R"({"compositeResponse":[{"referenceId":"q0","httpStatusCode":200,"body":)" +
            body + "}]}",
        1);
    ASSERT_EQ(answers.size(), 1u);
    EXPECT_EQ(answers[0].page.has_value(), !c.truncated) << c.rows;
    if (c.truncated) {
      ASSERT_TRUE(answers[0].error);
      EXPECT_EQ(answers[0].error->code(), "truncated");
    }
  }
  // A listing of 2,000 rows is one page, not a cut result.
  nlohmann::json listing = nlohmann::json::parse(AggregateBody(2000, true));
  for (auto& r : listing["records"]) r["attributes"]["type"] = "X__c";
  EXPECT_EQ(ParseQueryPage(listing.dump()).records.size(), 2000u);
}

TEST(CmdbClientTest, ParsesTokenResponses) {
  const std::string where =
      "https://acme.my.salesforce.com/services/oauth2/token";
  TokenSource::Token token = ParseTokenResponse(
      200,
      R"({"access_token":"00Dxx!AQ0","instance_url":"https://acme.my.salesforce.com",
          "token_type":"Bearer","issued_at":"1700000000000"})",
      where);
  EXPECT_EQ(token.access_token, "00Dxx!AQ0");
  EXPECT_EQ(token.instance.Base(), "https://acme.my.salesforce.com:443");

  struct Bad {
    int status;
    std::string body;
    std::string result;
    std::string message_part;
  };
  const std::vector<Bad> bad = {
      {400,
       R"({"error":"invalid_client","error_description":"invalid client credentials"})",
       "invalid_client",
       "HTTP 400: invalid_client (invalid client credentials)"},
      {400, R"({"error":"made_up_error"})", "http_400", "made_up_error"},
      {503, "<html>down</html>", "http_503", "HTTP 503"},
      {200, R"({"access_token":"x"})", "parse",
       "lacks access_token or a valid"},
      {200, R"({"access_token":"x","instance_url":"ftp://h"})", "parse",
       "instance_url"},
      {200, "not json", "parse", where},
  };
  for (const Bad& b : bad) {
    try {
      ParseTokenResponse(b.status, b.body, where);
      ADD_FAILURE() << "accepted " << b.body;
    } catch (const TokenFailure& f) {
      EXPECT_EQ(f.result, b.result) << b.body;
      EXPECT_NE(f.message.find(b.message_part), std::string::npos) << f.message;
    }
  }
}

TEST(CmdbClientTest, ParsesSforceLimitInfo) {
  using P = std::pair<int64_t, int64_t>;
  EXPECT_EQ(ParseLimitInfo("api-usage=18/5000"), P(18, 5000));
  EXPECT_EQ(
      ParseLimitInfo(
          "api-usage=10018/100000; per-app-api-usage=17/250(appName=sample)"),
      P(10018, 100000));
  EXPECT_EQ(
      ParseLimitInfo("per-app-api-usage=17/250(appName=x); api-usage=3/15000"),
      P(3, 15000));
  for (const char* bad :
       {"", "api-usage=", "api-usage=5", "api-usage=5/", "api-usage=/5",
        "api-usage=a/b", "api-usage=-1/5", "api-usage=5/0",
        "per-app-api-usage=17/250", "api-usage=99999999999999999999/1"}) {
    EXPECT_FALSE(ParseLimitInfo(bad).has_value()) << bad;
  }
}

TEST(CmdbClientTest, ParsesCompositeResponses) {
  // Answers in any order, one failing, one missing, one unknown and one
  // repeated referenceId, one not a query page.
  auto answers = ParseCompositeResponse(R"({"compositeResponse": [
    {"referenceId": "q2", "httpStatusCode": 400, "body":
      [{"message": "unexpected token: 'FRM'", "errorCode": "MALFORMED_QUERY"}]},
    {"referenceId": "q0", "httpStatusCode": 200, "body":
      {"totalSize": 42, "done": true, "records": []}},
    {"referenceId": "q0", "httpStatusCode": 500, "body": []},
    {"referenceId": "q7", "httpStatusCode": 200, "body": {}},
    {"referenceId": "q3", "httpStatusCode": 200, "body": "<html>"},
    {"referenceId": "q1"}]})",
                                        5);
  ASSERT_EQ(answers.size(), 5u);
  ASSERT_TRUE(answers[0].page);
  EXPECT_FALSE(answers[0].error);
  EXPECT_EQ(answers[0].page->total_size, 42);
  ASSERT_TRUE(answers[1].error);
  EXPECT_EQ(answers[1].error->code(), "parse");
  EXPECT_NE(std::string(answers[1].error->what()).find("httpStatusCode"),
            std::string::npos);
  ASSERT_TRUE(answers[2].error);
  EXPECT_EQ(answers[2].error->code(), "MALFORMED_QUERY");
  EXPECT_EQ(answers[2].error->status(), 400);
  ASSERT_TRUE(answers[3].error);
  EXPECT_EQ(answers[3].error->code(), "parse");
  ASSERT_TRUE(answers[4].error);
  EXPECT_EQ(std::string(answers[4].error->what()),
            "the composite response has no answer for q4");

  for (const char* bad :
       {"", "[]", "{}", R"({"compositeResponse": {}})", "<html>503</html>"}) {
    try {
      ParseCompositeResponse(bad, 2);
      ADD_FAILURE() << bad;
    } catch (const CmdbError& e) {
      EXPECT_EQ(e.code(), "parse") << bad;
    }
  }
}

TEST(CmdbClientTest, BudgetStretchGrowsAsTheAllocationRunsOut) {
  // 10% to keep, at most 8 times the interval.
  EXPECT_EQ(BudgetStretch(0, 1000, 0.1, 8), 1);
  EXPECT_EQ(BudgetStretch(900, 1000, 0.1, 8), 1);  // exactly 10% left
  EXPECT_DOUBLE_EQ(BudgetStretch(950, 1000, 0.1, 8), 2);
  EXPECT_DOUBLE_EQ(BudgetStretch(975, 1000, 0.1, 8), 4);
  EXPECT_EQ(BudgetStretch(990, 1000, 0.1, 8), 8);   // 10 times, capped
  EXPECT_EQ(BudgetStretch(1000, 1000, 0.1, 8), 8);  // none left
  EXPECT_EQ(BudgetStretch(1200, 1000, 0.1, 8), 8);  // overspent
  EXPECT_EQ(BudgetStretch(999, 1000, 0, 8), 1);     // the guard is off
  EXPECT_EQ(BudgetStretch(5, 0, 0.1, 8), 1);        // no limit known
}

TEST(CmdbClientTest, ParsesUrls) {
  auto u = ParseUrl("https://acme.my.salesforce.com");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->Base(), "https://acme.my.salesforce.com:443");
  u = ParseUrl("http://127.0.0.1:8443/services/data?x#y");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8443);
  u = ParseUrl("HTTPS://user:pass@host:1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->Base(), "https://host:1") << "userinfo is dropped";
  for (const char* bad : {"", "acme.my.salesforce.com", "ftp://x", "https://",
                          "https://h:0", "https://h:99999", "https://h:x"}) {
    EXPECT_FALSE(ParseUrl(bad).has_value()) << bad;
  }
}

TEST(CmdbClientTest, EncodesEverythingButUnreserved) {
  EXPECT_EQ(UrlEncode("SELECT COUNT() FROM X WHERE a = 'b+c' AND d != null"),
            "SELECT%20COUNT%28%29%20FROM%20X%20WHERE%20a%20%3D%20%27b%2Bc%27%"
            "20AND%20d%20%21%3D%20null");
  EXPECT_EQ(UrlEncode("a-b_c.d~e"), "a-b_c.d~e");
  EXPECT_EQ(UrlEncode("\xc3\xa9"), "%C3%A9");
}

TEST(CmdbClientTest, EveryOAuthErrorOfTheReferenceHasAHint) {
  for (const auto& [error, description] :
       std::vector<std::pair<std::string, std::string>>{
           {"invalid_grant", "request not supported on this domain"},
           {"invalid_grant", "no client credentials user enabled"},
           {"invalid_grant", "user hasn't approved this consumer"},
           {"invalid_grant", "authentication failure"},
           {"invalid_client", "invalid client credentials"},
           {"invalid_client_id", "client identifier invalid"},
           {"unsupported_grant_type", "grant type not supported"},
           {"inactive_user", ""},
           {"inactive_org", ""},
           {"rate_limit_exceeded", ""},
           {"invalid_scope", ""}}) {
    EXPECT_FALSE(OAuthHint(error, description).empty())
        << error << " " << description;
  }
  EXPECT_NE(OAuthHint("invalid_grant", "request not supported on this domain")
                .find("My Domain"),
            std::string::npos);
  EXPECT_NE(OAuthHint("invalid_grant", "no client credentials user enabled")
                .find("Run As"),
            std::string::npos);
  EXPECT_EQ(OAuthHint("something_else", ""), "");
}

}  // namespace
}  // namespace cloudaware_exporter
