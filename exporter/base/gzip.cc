#include "exporter/base/gzip.h"

#include <zlib.h>

#include <stdexcept>

#include "exporter/base/text.h"

namespace cloudaware_exporter {

DeflateSegment Deflate(std::string_view text, bool final, int level) {
  DeflateSegment out;
  out.length = text.size();
  out.crc = static_cast<uint32_t>(crc32_z(0, nullptr, 0));
  out.crc = static_cast<uint32_t>(crc32_z(
      out.crc, reinterpret_cast<const Bytef*>(text.data()), text.size()));

  z_stream z{};
  // Negative window bits: raw deflate, with no header or trailer of its own.
  if (deflateInit2(&z, level, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  // deflateBound is about the text's own size; a buffer that large, zeroed
  // at once, would hold a large query's text twice while it is published.
  // The output grows as zlib writes it instead, a piece at a time.
  char piece[64 * 1024];
  int rc = Z_OK;
  do {
    z.next_out = reinterpret_cast<Bytef*>(piece);
    z.avail_out = sizeof piece;
    rc = deflate(&z, final ? Z_FINISH : Z_SYNC_FLUSH);
    out.data.append(piece, sizeof piece - z.avail_out);
  } while (z.avail_out == 0 && rc == Z_OK);
  // A flush that filled the piece exactly is completed by the next call,
  // which then has nothing to write: Z_BUF_ERROR, not a failure.
  const bool ok = final ? rc == Z_STREAM_END
                        : (rc == Z_OK || rc == Z_BUF_ERROR) && z.avail_in == 0;
  deflateEnd(&z);
  if (!ok) throw std::runtime_error("deflate failed");
  return out;
}

std::vector<std::shared_ptr<const std::string>> GzipMember(
    const std::vector<std::shared_ptr<const DeflateSegment>>& segments) {
  // RFC 1952: magic, deflate, no flags, no mtime, no extra flags, OS unknown.
  static const auto header = std::make_shared<const std::string>(
      std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10));
  std::vector<std::shared_ptr<const std::string>> chunks{header};
  uLong crc = crc32_z(0, nullptr, 0);
  uint64_t length = 0;
  for (const auto& segment : segments) {
    crc =
        crc32_combine(crc, segment->crc, static_cast<z_off_t>(segment->length));
    length += segment->length;
    // The segment outlives the chunk list: alias its data.
    chunks.emplace_back(segment, &segment->data);
  }
  std::string trailer(8, '\0');
  const uint32_t size = static_cast<uint32_t>(length);  // modulo 2^32
  for (int i = 0; i < 4; ++i) {
    trailer[i] = static_cast<char>((crc >> (8 * i)) & 0xff);
    trailer[4 + i] = static_cast<char>((size >> (8 * i)) & 0xff);
  }
  chunks.push_back(std::make_shared<const std::string>(std::move(trailer)));
  return chunks;
}

bool AcceptsGzip(std::string_view header) {
  bool gzip = false, star = false, gzip_listed = false;
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view()
                                             : header.substr(comma + 1);
    size_t semi = item.find(';');
    std::string_view coding = item.substr(0, semi);
    coding = TrimBlanks(coding);
    bool allowed = true;  // no q-value means q=1
    if (semi != std::string_view::npos) {
      std::string_view params = TrimBlanks(item.substr(semi + 1));
      if (params.size() >= 2 && (params[0] == 'q' || params[0] == 'Q') &&
          params[1] == '=') {
        std::string_view q = TrimBlanks(params.substr(2));
        // q=0, q=0.0, q=0.000: refused; anything else is above 0.
        allowed = !(q.size() >= 1 && q[0] == '0' &&
                    q.find_first_not_of("0.", 0) == std::string_view::npos);
      }
    }
    if (EqualsIgnoreCase(coding, "gzip") ||
        EqualsIgnoreCase(coding, "x-gzip")) {
      gzip_listed = true;
      gzip = gzip || allowed;
    } else if (coding == "*") {
      star = allowed;
    }
  }
  return gzip || (star && !gzip_listed);
}

}  // namespace cloudaware_exporter
