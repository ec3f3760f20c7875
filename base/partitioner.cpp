// murmur2 as used by Kafka's default partitioner (seed 0x9747b28c).
#include "base/partitioner.hpp"

namespace troupe {

uint32_t murmur2(const std::string& key) {
  const uint32_t seed = 0x9747b28c;
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  auto len = static_cast<uint32_t>(key.size());
  uint32_t h = seed ^ len;
  auto data = reinterpret_cast<const unsigned char*>(key.data());
  while (len >= 4) {
    uint32_t k = static_cast<uint32_t>(data[0])
                 | static_cast<uint32_t>(data[1]) << 8
                 | static_cast<uint32_t>(data[2]) << 16
                 | static_cast<uint32_t>(data[3]) << 24;
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
    data += 4;
    len -= 4;
  }
  switch (len) {
    case 3:
      h ^= static_cast<uint32_t>(data[2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<uint32_t>(data[1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= data[0];
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return h;
}

} // namespace troupe
