// engine/sha256.h: FIPS 180-4 test vectors and the padding boundaries around one block.
// Expected digests for the boundary lengths were computed with Python's hashlib.
// Pure: no I/O.
#include <catch2/catch.hpp>

#include <string>

#include "engine/model/sha256.h"

using namespace converge;

TEST_CASE("sha256_hex matches the FIPS 180-4 vectors", "[sha256]") {
  auto [input, digest] = GENERATE(table<std::string, std::string>({
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",  // 448 bits
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
  }));
  CHECK(sha256_hex(input) == digest);
}

TEST_CASE("sha256_hex of one million 'a'", "[sha256]") {
  CHECK(sha256_hex(std::string(1'000'000, 'a')) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256_hex across the padding boundaries", "[sha256]") {
  // 55 bytes: length fits in the first block; 56: it spills into a second; 64: exactly one block.
  auto [n, digest] = GENERATE(table<std::size_t, std::string>({
      {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
      {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
      {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
      {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
      {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
  }));
  INFO(n << " x 'a'");
  CHECK(sha256_hex(std::string(n, 'a')) == digest);
}

TEST_CASE("sha256_hex hashes bytes, including NUL and high bytes", "[sha256]") {
  CHECK(sha256_hex(std::string("a\0b", 3)) == "59b271ae1bbcb1d31d41929817f4b16fb439eb4f31520b5ad1d5ce98920a7138");
  CHECK(sha256_hex(std::string(3, '\xff')) == "5ae7e6a42304dc6e4176210b83c43024f99a0bce9a870c3b6d2c95fc8ebfb74c");
  CHECK(sha256_hex(std::string_view("abcdef").substr(0, 3)) == sha256_hex("abc"));
}
