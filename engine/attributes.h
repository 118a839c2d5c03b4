// Typed access to a node's named JSON attributes, with errors that name the
// attribute and say what form it must take.
#pragma once

#include <array>
#include <string>

#include "engine/graph.h"

namespace spdinfer {

int int_attr(const Node& node, const std::string& key, int fallback);
float float_attr(const Node& node, const std::string& key, float fallback);
std::string string_attr(const Node& node, const std::string& key, const std::string& fallback);
// An integer, or a list [h, w]: returns {h, w}.
std::array<int, 2> pair_attr(const Node& node, const std::string& key, int fallback);
// An integer p, a list [ph, pw] or a list [top, left, bottom, right]:
// returns {top, left, bottom, right}.
std::array<int, 4> padding_attr(const Node& node, const std::string& key);

}  // namespace spdinfer
