// `--classes` of `spdinfer detect`: the classes to keep, each given by id or
// by name (`--classes person,bus`, `--classes 0,5`, or both mixed), resolved
// against the model's class names. What it is not: the filtering itself
// (detect/detection.h's NmsOptions::classes).
#pragma once

#include <string>
#include <vector>

namespace spdinfer::cli {

// The class ids `items` name, in order. An item of digits only is an id (so a
// class whose name is a number is selected by id); anything else is a class
// name, matched exactly after trimming surrounding spaces. Throws
// spdinfer::Error("--classes ITEM: ...") for an id out of range or an unknown
// name, the latter listing some of the model's names (from `model_path`).
std::vector<int> resolve_classes(const std::vector<std::string>& items, const std::vector<std::string>& names,
                                 const std::string& model_path);

}  // namespace spdinfer::cli
