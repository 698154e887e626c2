// gzip for the exposition without compressing it per scrape. Each query's
// text is deflated once, when it changes, into a segment that ends on a byte
// boundary and is not final (Z_SYNC_FLUSH); segments laid end to end are one
// deflate stream. A scrape writes the gzip header, the cached segments, the
// freshly deflated self-metrics section as the final segment, and a trailer
// whose CRC is combined from the segments' CRCs. The result is a single gzip
// member, which every client decodes, unlike concatenated members.
#ifndef CLOUDAWARE_EXPORTER_GZIP_H_
#define CLOUDAWARE_EXPORTER_GZIP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cloudaware_exporter {

struct DeflateSegment {
  std::string data;     // raw deflate blocks
  uint32_t crc = 0;     // CRC-32 of the uncompressed text
  uint64_t length = 0;  // bytes of uncompressed text
};

// level: zlib's 1 (fast) to 9 (small). A final segment ends the stream.
DeflateSegment Deflate(std::string_view text, bool final, int level);

// The gzip member made of segments, of which only the last is final, as the
// chunks to write in order: header, each segment's data, trailer.
std::vector<std::shared_ptr<const std::string>> GzipMember(
    const std::vector<std::shared_ptr<const DeflateSegment>>& segments);

// True if an Accept-Encoding header value accepts gzip (RFC 9110 §12.5.3):
// "gzip" or "x-gzip" or "*" with a q-value above 0, unless gzip itself is
// listed with q=0.
bool AcceptsGzip(std::string_view accept_encoding);

}  // namespace cloudaware_exporter

#endif  // CLOUDAWARE_EXPORTER_GZIP_H_
