#include "node-agent/sources/payload.h"

#include "gtest/gtest.h"

namespace spotguard::agent::sources {
namespace {

// Verifies the three date formats the clouds use, and garbage refused.
TEST(PayloadTest, CloudDateFormats) {
  EXPECT_EQ(*ParseRfc1123("Mon, 19 Sep 2016 18:29:47 GMT"), absl::FromUnixSeconds(1474309787));
  EXPECT_EQ(*ParseAwsEventTime("21 Jan 2019 09:00:43 GMT"), absl::FromUnixSeconds(1548061243));
  EXPECT_EQ(*ParseAwsEventTime("1 Feb 2019 09:00:43 GMT"), absl::FromUnixSeconds(1549011643));
  EXPECT_EQ(*ParseRfc3339("2017-09-18T08:22:00Z"), absl::FromUnixSeconds(1505722920));
  for (const char* bad : {"", "yesterday", "2017-09-18", "Mon, 32 Sep 2016 18:29:47 GMT"}) {
    EXPECT_FALSE(ParseRfc1123(bad).ok()) << bad;
    EXPECT_FALSE(ParseAwsEventTime(bad).ok()) << bad;
    EXPECT_FALSE(ParseRfc3339(bad).ok()) << bad;
  }
}

// Verifies typed field access never throws on the wrong shape.
TEST(PayloadTest, StringField) {
  Json j = Json::parse(R"({"a": "x", "b": 3})");
  EXPECT_EQ(StringField(j, "a"), "x");
  EXPECT_EQ(StringField(j, "b"), std::nullopt);
  EXPECT_EQ(StringField(j, "c"), std::nullopt);
  EXPECT_EQ(StringField(Json::array(), "a"), std::nullopt);
  EXPECT_FALSE(ParseJson("{", "doc").ok());
}

}  // namespace
}  // namespace spotguard::agent::sources
