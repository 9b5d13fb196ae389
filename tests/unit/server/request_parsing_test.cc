// tests/unit/server/request_parsing_test.cc — ParseRequestBytes: valid bytes
// parse as protobuf parses them; bytes protobuf refuses are INVALID_ARGUMENT
// naming the message type and, for each kind of damage, the field and byte
// where it is; random and mutated bytes never crash it, and it refuses
// exactly what protobuf refuses.
#include "server/request_parsing.h"

#include <cstdio>
#include <random>
#include <string>

#include "absl/strings/str_format.h"
#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"
#include "inferd/v1/inference.pb.h"

namespace inferd::server {
namespace {

v1::GenerateRequest SampleRequest() {
  v1::GenerateRequest r;
  r.mutable_token_ids()->add_ids(1);
  r.mutable_token_ids()->add_ids(403);
  r.set_max_tokens(8);
  r.set_temperature(0.5f);
  r.add_stop("Lily");
  r.add_stop("once");
  r.add_stop_token_ids(2);
  r.mutable_speculative()->set_num_speculative_tokens(3);
  r.set_request_id("req-1");
  return r;
}

std::string Bytes(std::initializer_list<unsigned char> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

TEST(RequestParsingTest, ValidBytesParse) {
  const v1::GenerateRequest sample = SampleRequest();
  v1::GenerateRequest parsed;
  ASSERT_TRUE(ParseRequestBytes(sample.SerializeAsString(), &parsed).ok());
  EXPECT_EQ(parsed.SerializeAsString(), sample.SerializeAsString());
  EXPECT_TRUE(ParseRequestBytes("", &parsed).ok());
  EXPECT_EQ(parsed.ByteSizeLong(), 0u);
}

TEST(RequestParsingTest, EachKindOfDamageIsNamed) {
  const std::string sample = SampleRequest().SerializeAsString();
  const struct {
    std::string bytes;
    std::string message;
  } cases[] = {
      {Bytes({0x00}), "invalid field tag at byte 0"},
      {Bytes({0x28}), "max_tokens: truncated varint at byte 1"},
      {Bytes({0x28, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}),
       "max_tokens: truncated varint at byte 1"},
      {Bytes({0x12, 0x05, 'a'}), "text: length 5 at byte 1 runs past the end of the message"},
      {Bytes({0x12}), "text: truncated length at byte 1"},
      {Bytes({0x1a, 0x03, 0x08, 0x80, 0x80}), "token_ids.ids[0]: truncated varint at byte 3"},
      {Bytes({0x1a, 0x03, 0x0a, 0x01, 0x80}), "token_ids.ids: truncated varint at byte 4"},
      {Bytes({0x12, 0x02, 0xc3, 0x28}), "text: invalid UTF-8 in a string field (byte 0 "},
      {sample + Bytes({0x72, 0x03, 'o', 'k', 0xff}),
       "stop[2]: invalid UTF-8 in a string field (byte 2 "},
      {Bytes({0xfc, 0x07}), "field 127: end-group tag without a group at byte 0"},
      {Bytes({0xfe, 0x07}), "field 127: invalid wire type 6 at byte 0"},
      {Bytes({0xf5, 0x07, 0x01}), "field 126: truncated 4-byte value at byte 2"},
  };
  for (const auto& c : cases) {
    v1::GenerateRequest parsed;
    const absl::Status status = ParseRequestBytes(c.bytes, &parsed);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_EQ(status.message().rfind("request is not a valid inferd.v1.GenerateRequest: ", 0), 0u)
        << status.message();
    EXPECT_NE(status.message().find(c.message), std::string::npos)
        << "'" << c.message << "' not in: " << status.message();
  }
}

// Random bytes and valid encodings with bytes flipped, cut or inserted: no
// crash, refused exactly when protobuf refuses, and how often the walk
// named the problem (printed; the rest get the generic message).
TEST(RequestParsingTest, RefusesExactlyWhatProtobufRefuses) {
  constexpr int kCases = 20000;
  // Protobuf logs each invalid UTF-8 string it refuses.
  const google::protobuf::LogSilencer quiet;
  std::mt19937 rng(7);
  const std::string sample = SampleRequest().SerializeAsString();
  int refused = 0, named = 0;
  for (int i = 0; i < kCases; ++i) {
    std::string bytes;
    if (i % 4 == 0) {
      bytes.resize(rng() % 24);
      for (char& b : bytes) b = static_cast<char>(rng());
    } else {
      bytes = sample;
      const size_t at = rng() % bytes.size();
      switch (i % 4) {
        case 1:
          bytes[at] = static_cast<char>(rng());
          break;
        case 2:
          bytes.resize(at);
          break;
        default:
          bytes.insert(at, 1, static_cast<char>(rng()));
          break;
      }
    }
    v1::GenerateRequest reference;
    const bool protobuf_ok = reference.ParseFromString(bytes);
    v1::GenerateRequest parsed;
    const absl::Status status = ParseRequestBytes(bytes, &parsed);
    ASSERT_EQ(status.ok(), protobuf_ok) << status;
    if (!status.ok()) {
      ++refused;
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
      if (status.message().find("not a valid protobuf encoding") == std::string::npos) {
        ++named;
      } else {
        std::string hex;
        for (unsigned char b : bytes) hex += absl::StrFormat("%02x ", b);
        ADD_FAILURE() << "not named: " << hex;
      }
    }
  }
  std::printf("[request-parsing] %d of %d refused, the problem named in %d\n", refused, kCases,
              named);
  EXPECT_GT(refused, 1000);
  EXPECT_EQ(named, refused) << "the walk missed a problem protobuf found";
}

}  // namespace
}  // namespace inferd::server
