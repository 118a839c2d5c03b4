// Where `spdinfer detect` saves its results, YOLOv5's way: a fresh run
// directory per run (runs/detect/exp, exp2, exp3, ...), and output file names
// that never overwrite each other or an input. What it is not: writing the
// files (cmd_detect) or deciding what is saved.
#pragma once

#include <string>
#include <vector>

namespace spdinfer::cli {

// YOLOv5's increment_path, then mkdir: `project/name` when it does not exist
// yet, else the first of `project/name2`, `project/name3`, ... that does not;
// each candidate is claimed by creating it, so two runs started together never
// share one. With `exist_ok`, `project/name` itself, created if missing and
// reused if present. Returns the directory; throws spdinfer::Error naming it
// when it cannot be created.
std::string claim_run_directory(const std::string& project, const std::string& name, bool exist_ok);

// Creates `dir` (and its parents) unless it exists; throws spdinfer::Error naming it otherwise.
void make_directory(const std::string& dir);

// The output names of one input: the annotated image's file name and its label
// file's (same stem, .txt).
struct OutputName {
  std::string image;
  std::string label;
};

// One OutputName per input, in order, all distinct: each input keeps its file
// name unless an earlier input already took its stem (a/x.jpg then b/x.jpg, or
// x.jpg then x.png, whose labels would both be x.txt); then the stem gets
// _2, _3, ... (the first free one): x.jpg, x_2.jpg; x.txt, x_2.txt. Stems are
// compared ignoring ASCII case, so the names stay distinct on case-insensitive
// file systems too.
std::vector<OutputName> distinct_output_names(const std::vector<std::string>& inputs);

// Throws spdinfer::Error naming the file when writing `dir`/image for some
// output name would replace one of the inputs (annotated copies must never
// replace the photos).
void check_inputs_not_overwritten(const std::string& dir, const std::vector<OutputName>& names,
                                  const std::vector<std::string>& inputs);

}  // namespace spdinfer::cli
