#include "exporter/base/gzip.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <string>
#include <vector>

#include "exporter/pipeline/collector.h"

namespace cloudaware_exporter {
namespace {

// Decodes a whole gzip file with zlib's own reader; fails the test on any
// error, on a second member, or on bytes after the first.
std::string Gunzip(const std::string& gz) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
  std::string out;
  char buffer[65536];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buffer);
    z.avail_out = sizeof buffer;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buffer, sizeof buffer - z.avail_out);
    if (rc == Z_BUF_ERROR && z.avail_in == 0) break;
  }
  EXPECT_EQ(rc, Z_STREAM_END) << "the stream did not end cleanly";
  EXPECT_EQ(z.avail_in, 0u) << "bytes after the gzip member";
  inflateEnd(&z);
  return out;
}

std::string Join(const std::vector<std::shared_ptr<const std::string>>& c) {
  std::string all;
  for (const auto& chunk : c) all += *chunk;
  return all;
}

std::string RandomText(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s;
  const char alphabet[] = "abcdefgh{}=\",_ 0123456789\n";
  for (size_t i = 0; i < n; ++i) s += alphabet[rng() % (sizeof alphabet - 1)];
  return s;
}

TEST(GzipTest, SegmentsMakeOneMemberThatDecodesToTheirText) {
  const std::vector<std::string> texts = {"# HELP a A.\n# TYPE a gauge\na 1\n",
                                          "", RandomText(300000, 1),
                                          std::string(100000, 'x'), "tail 2\n"};
  std::vector<std::shared_ptr<const DeflateSegment>> segments;
  std::string expected;
  for (size_t i = 0; i < texts.size(); ++i) {
    const bool last = i + 1 == texts.size();
    segments.push_back(std::make_shared<const DeflateSegment>(
        Deflate(texts[i], last, last ? Z_BEST_SPEED : Z_DEFAULT_COMPRESSION)));
    expected += texts[i];
  }
  const std::string gz = Join(GzipMember(segments));
  EXPECT_EQ(gz.substr(0, 2), "\x1f\x8b");
  EXPECT_EQ(Gunzip(gz), expected);
  EXPECT_LT(gz.size(), expected.size() / 2);
}

TEST(GzipTest, ASegmentLargerThanOnePieceOfOutput) {
  // Random bytes do not compress: the output is written in several pieces.
  std::mt19937 rng(7);
  std::string text(1 << 20, '\0');
  for (char& c : text) c = static_cast<char>(rng());
  for (const bool final : {false, true}) {
    SCOPED_TRACE(final ? "final" : "not final");
    std::vector<std::shared_ptr<const DeflateSegment>> segments = {
        std::make_shared<const DeflateSegment>(
            Deflate(text, final, Z_DEFAULT_COMPRESSION))};
    EXPECT_GT(segments[0]->data.size(), text.size());
    if (!final) {
      segments.push_back(std::make_shared<const DeflateSegment>(
          Deflate("", /*final=*/true, Z_BEST_SPEED)));
    }
    EXPECT_EQ(Gunzip(Join(GzipMember(segments))), text);
  }
}

TEST(GzipTest, OnlyAFinalSegment) {
  auto only = std::make_shared<const DeflateSegment>(
      Deflate("up 1\n", /*final=*/true, Z_BEST_SPEED));
  EXPECT_EQ(Gunzip(Join(GzipMember({only}))), "up 1\n");
}

TEST(GzipTest, WithoutAFinalSegmentTheStreamDoesNotEnd) {
  // Guards the meaning of `final`: a member of only non-final segments is
  // cut short, which a client would report.
  auto open = std::make_shared<const DeflateSegment>(
      Deflate("up 1\n", /*final=*/false, Z_BEST_SPEED));
  const std::string gz = Join(GzipMember({open}));
  z_stream z{};
  ASSERT_EQ(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
  char buffer[64];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  z.next_out = reinterpret_cast<Bytef*>(buffer);
  z.avail_out = sizeof buffer;
  EXPECT_NE(inflate(&z, Z_FINISH), Z_STREAM_END);
  inflateEnd(&z);
}

TEST(GzipTest, AcceptEncoding) {
  struct Case {
    const char* header;
    bool gzip;
  };
  for (const Case& c : std::vector<Case>{
           {"", false},
           {"gzip", true},
           {"GZIP", true},
           {"x-gzip", true},
           {"gzip, deflate, br", true},
           {"deflate, gzip;q=0.5", true},
           {" br ;q=1 , gzip ; q=0.001", true},
           {"identity", false},
           {"br, deflate", false},
           {"gzip;q=0", false},
           {"gzip;q=0.000", false},
           {"*", true},
           {"*;q=0", false},
           {"*, gzip;q=0", false},
           {"gzipped", false},
       }) {
    EXPECT_EQ(AcceptsGzip(c.header), c.gzip) << "'" << c.header << "'";
  }
}

TEST(GzipTest, ExpositionPlainAndGzipCarryTheSameBytes) {
  Collector collector;
  collector.SetQueries({"a", "b"});
  GaugeFamily family{"x_total_things", "Things.", {"id"}, {}};
  for (int i = 0; i < 1000; ++i) {
    family.series.push_back({SeriesKey({"i-" + std::to_string(i)}), 1.0 * i});
  }
  collector.Publish("a", {family});
  family.name = "y_things";
  collector.Publish("b", {family});
  auto snapshot = collector.snapshot();
  const std::string plain = Join(Exposition(*snapshot, "self 1\n", false));
  EXPECT_NE(plain.find("x_total_things{id=\"i-999\"} 999\n"),
            std::string::npos);
  EXPECT_NE(plain.find("y_things{id=\"i-0\"} 0\n"), std::string::npos);
  EXPECT_EQ(plain.substr(plain.size() - 7), "self 1\n");
  EXPECT_EQ(Gunzip(Join(Exposition(*snapshot, "self 1\n", true))), plain);
}

TEST(GzipTest, ExpositionOfFamiliesSharedByKeysDecodesToThePlainText) {
  Collector collector;
  collector.SetQueries({"prod/a", "staging/a"});
  for (const char* org : {"staging", "prod"}) {
    GaugeFamily shared{"x_things", "Things.", {"org", "id"}, {}};
    GaugeFamily own{std::string("y_") + org, "Own.", {"org", "id"}, {}};
    for (int i = 0; i < 300; ++i) {
      const GaugeFamily::Series series{
          SeriesKey({org, "i-" + std::to_string(i)}), 1.0 * i};
      shared.series.push_back(series);
      own.series.push_back(series);
    }
    collector.Publish(std::string(org) + "/a", {shared, own});
  }
  auto snapshot = collector.snapshot();
  const std::string plain = Join(Exposition(*snapshot, "self 1\n", false));
  const size_t header = plain.find("# TYPE x_things gauge\n");
  ASSERT_NE(header, std::string::npos);
  EXPECT_EQ(plain.find("# TYPE x_things", header + 1), std::string::npos);
  EXPECT_LT(plain.find("x_things{org=\"prod\",id=\"i-299\"} 299\n"),
            plain.find("x_things{org=\"staging\",id=\"i-0\"} 0\n"));
  EXPECT_LT(plain.find("x_things{org=\"staging\",id=\"i-299\"} 299\n"),
            plain.find("# HELP y_prod"));
  EXPECT_EQ(Gunzip(Join(Exposition(*snapshot, "self 1\n", true))), plain);
}

TEST(GzipTest, RepublishingTheSameResultKeepsTheCompressedCopy) {
  Collector collector;
  collector.SetQueries({"a"});
  GaugeFamily family{"x", "X.", {}, {{"", 1}}};
  collector.Publish("a", {family});
  auto first = collector.snapshot();
  EXPECT_EQ(collector.Publish("a", {family}), 1u);
  EXPECT_EQ(collector.snapshot(), first) << "an unchanged result re-rendered";
  family.series[0].value = 2;
  collector.Publish("a", {family});
  auto second = collector.snapshot();
  ASSERT_NE(second, first);
  EXPECT_NE(second->deflated[0], first->deflated[0]);
  EXPECT_EQ(Gunzip(Join(Exposition(*second, "", true))),
            "# HELP x X.\n# TYPE x gauge\nx 2\n");
}

}  // namespace
}  // namespace cloudaware_exporter
