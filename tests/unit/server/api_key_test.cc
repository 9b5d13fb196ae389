// The API key file format (server/auth/api_key_set.h) and the authenticator's
// decision (server/auth/api_key_authenticator.h): which calls pass, which are
// refused, and that no error message quotes a key.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/auth/api_key_authenticator.h"
#include "server/auth/api_key_set.h"

namespace inferd::server {
namespace {

constexpr char kKeyA[] = "k3y-aaaaaaaaaaaaaaaaaaaaaaaa";
constexpr char kKeyB[] = "K3Y_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
constexpr char kGenerate[] = "/inferd.v1.Inference/Generate";

ApiKeySet Keys() {
  absl::StatusOr<ApiKeySet> keys = ApiKeySet::Parse(
      std::string("# inferd keys\n\n") + kKeyA + "\r\n   # indented comment\n" + kKeyB + "\n",
      "keys.txt");
  EXPECT_TRUE(keys.ok()) << keys.status();
  return keys.ok() ? *std::move(keys) : *ApiKeySet::Parse("placeholder-key-0000", "x");
}

TEST(ApiKeySetTest, KeepsEveryKeyAndSkipsCommentsBlanksAndCarriageReturns) {
  const ApiKeySet keys = Keys();
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_TRUE(keys.Contains(kKeyA));
  EXPECT_TRUE(keys.Contains(kKeyB));
  EXPECT_FALSE(keys.Contains(std::string(kKeyA) + "\r"));
  EXPECT_FALSE(keys.Contains(std::string(kKeyA).substr(0, 20)));  // a prefix is not the key
  EXPECT_FALSE(keys.Contains(std::string(kKeyA) + "x"));
  EXPECT_FALSE(keys.Contains(""));
  EXPECT_FALSE(keys.Contains("# inferd keys"));
}

struct BadFile {
  std::string text;
  std::string message;  // the error names this
};

TEST(ApiKeySetTest, RefusesBadFilesNamingTheLineButNeverTheKey) {
  const std::string secret = "s3cret-s3cret-s3cret";
  const std::vector<BadFile> bad = {
      {"", "no API key"},
      {"# only a comment\n\n   \n", "no API key"},
      {"short-key\n", "line 1: the key has 9 characters; keys need at least 16"},
      {"# c\n" + secret + " trailing\n", "line 2: the key contains whitespace"},
      {secret + "\t\n", "line 1: the key contains whitespace"},
      {"\n\n" + secret + "\xc3\xa9\n",
       "line 3: the key contains a character that is not printable"},
      {std::string(5000, 'k') + "\n", "keys have at most 4096"},
  };
  for (const BadFile& b : bad) {
    absl::StatusOr<ApiKeySet> keys = ApiKeySet::Parse(b.text, "/etc/inferd/keys");
    ASSERT_FALSE(keys.ok()) << b.text;
    const std::string message(keys.status().message());
    EXPECT_EQ(keys.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(message.find("--api-key-file /etc/inferd/keys"), std::string::npos) << message;
    EXPECT_NE(message.find(b.message), std::string::npos) << message;
    EXPECT_EQ(message.find(secret), std::string::npos) << message;
  }
}

TEST(ApiKeySetTest, LoadFileNamesAMissingFile) {
  absl::StatusOr<ApiKeySet> keys = ApiKeySet::LoadFile("/nonexistent/inferd-keys");
  ASSERT_FALSE(keys.ok());
  EXPECT_NE(keys.status().message().find("--api-key-file /nonexistent/inferd-keys: cannot read"),
            std::string::npos)
      << keys.status();
}

TEST(ApiKeyAuthenticatorTest, HealthIsOpenEverythingElseNeedsABearerKey) {
  int failures = 0;
  const ApiKeyAuthenticator auth(Keys(), [&failures] { ++failures; });
  using V = std::vector<absl::string_view>;
  const std::string bearer_a = std::string("Bearer ") + kKeyA;
  const std::string bearer_b_lower = std::string("bearer ") + kKeyB;
  // Health: no key needed, and a wrong one does not matter either.
  EXPECT_TRUE(auth.Allows("/grpc.health.v1.Health/Check", V{}));
  EXPECT_TRUE(auth.Allows("/grpc.health.v1.Health/Watch", V{"Bearer nope"}));
  // The right key, scheme in any case.
  EXPECT_TRUE(auth.Allows(kGenerate, V{bearer_a}));
  EXPECT_TRUE(auth.Allows("/inferd.v1.Inference/Tokenize", V{bearer_b_lower}));
  // Missing, wrong, wrong scheme, no scheme, doubled header, empty.
  EXPECT_FALSE(auth.Allows(kGenerate, V{}));
  EXPECT_FALSE(auth.Allows(kGenerate, V{"Bearer wrong-key-wrong-key-wrong"}));
  EXPECT_FALSE(auth.Allows(kGenerate, V{std::string("Basic ") + kKeyA}));
  EXPECT_FALSE(auth.Allows(kGenerate, V{kKeyA}));
  EXPECT_FALSE(auth.Allows(kGenerate, V{bearer_a, bearer_a}));
  EXPECT_FALSE(auth.Allows(kGenerate, V{"Bearer "}));
  // Reflection and unknown services need the key too.
  EXPECT_FALSE(auth.Allows("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", V{}));
  EXPECT_TRUE(
      auth.Allows("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", V{bearer_a}));
  EXPECT_FALSE(auth.Allows("/grpc.health.v1.HealthX/Check", V{}));
  EXPECT_EQ(failures, 0);  // Allows() only decides; Process() counts
}

TEST(ApiKeyAuthenticatorTest, ProcessRefusesWithOneGenericMessageAndConsumesTheKey) {
  int failures = 0;
  ApiKeyAuthenticator auth(Keys(), [&failures] { ++failures; });
  const std::string path = kGenerate;
  const std::string good = std::string("Bearer ") + kKeyA;
  const std::string bad = "Bearer wrong-key-wrong-key-wrong";
  grpc::AuthMetadataProcessor::InputMetadata metadata = {{":path", path}, {"authorization", good}};
  grpc::AuthMetadataProcessor::OutputMetadata consumed;
  grpc::AuthMetadataProcessor::OutputMetadata response;
  EXPECT_TRUE(auth.Process(metadata, nullptr, &consumed, &response).ok());
  ASSERT_EQ(consumed.size(), 1u);
  EXPECT_EQ(consumed.begin()->first, "authorization");

  metadata = {{":path", path}, {"authorization", bad}};
  consumed.clear();
  const grpc::Status refused = auth.Process(metadata, nullptr, &consumed, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(refused.error_message(), kUnauthenticatedMessage);
  EXPECT_EQ(refused.error_message().find("wrong-key"), std::string::npos);
  metadata = {{":path", path}};
  EXPECT_EQ(auth.Process(metadata, nullptr, &consumed, &response).error_message(),
            kUnauthenticatedMessage);
  EXPECT_EQ(failures, 2);
}

}  // namespace
}  // namespace inferd::server
