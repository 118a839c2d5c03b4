// `spdinfer run MODEL --input X.npy --output Y.npy [--outputs NAME,...]`:
// raw tensors in and out, so anyone can feed the engine what they fed PyTorch.
#include <cstdio>
#include <map>

#include "apps/commands.h"
#include "apps/input_size.h"
#include "engine/error.h"
#include "engine/npy.h"
#include "models/model.h"

namespace spdinfer::cli {
namespace {

struct RunCommandOptions {
  std::string model, input, output;
  std::vector<std::string> outputs;
  int threads = 1;
};

// Y.npy for one output; Y.<name>.npy for each of several.
std::string output_path(const std::string& base, const std::string& name, bool several) {
  if (!several) return base;
  std::string stem = base.size() > 4 && base.compare(base.size() - 4, 4, ".npy") == 0 ? base.substr(0, base.size() - 4) : base;
  return stem + "." + name + ".npy";
}

void run_run(const RunCommandOptions& o) {
  Model m = load_model(o.model);
  Tensor x = read_npy(o.input);
  if (x.rank() != 4 || x.dim(1) != 3)
    throw Error(o.input + ": input shape " + shape_to_string(x.shape()) + ", expected (N, 3, H, W)");
  check_input_tensor(m, x, o.input);

  // Requested layers are captured while they are live in the arena.
  std::map<std::string, std::string> node_to_name;
  for (const auto& name : o.outputs) {
    std::string node = m.node_for_module(name);
    if (node.empty()) throw Error(o.model + ": no layer named '" + name + "'");
    node_to_name[node] = name;
  }
  std::map<std::string, Tensor> captured;
  RunOptions options;
  options.threads = o.threads;
  if (!o.outputs.empty())
    options.observer = [&](const Node& node, const Tensor& out, double) {
      auto it = node_to_name.find(node.name);
      if (it != node_to_name.end()) captured.emplace(it->second, out.clone());
    };
  const std::vector<Tensor> result = blaming_model(m, x.shape(), [&] { return m.graph->forward({&x}, options); });
  if (o.outputs.empty()) {
    write_npy(o.output, result.at(0));
    std::printf("%s %s\n", o.output.c_str(), shape_to_string(result[0].shape()).c_str());
    return;
  }
  for (const auto& name : o.outputs) {
    const std::string path = output_path(o.output, name, o.outputs.size() > 1);
    write_npy(path, captured.at(name));
    std::printf("%s %s\n", path.c_str(), shape_to_string(captured.at(name).shape()).c_str());
  }
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto opts = std::make_shared<RunCommandOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Run a model on a raw .npy tensor and write its output(s) as .npy");
  cmd->add_option("model", opts->model, "spdinfer model file")->required();
  cmd->add_option("--input", opts->input, "input tensor (N, 3, H, W), float32 .npy")->required();
  cmd->add_option("--output", opts->output, "output .npy path (Y.<layer>.npy per layer when several)")->required();
  cmd->add_option("--outputs", opts->outputs, "layers to write instead of the model output (PyTorch module names)")
      ->delimiter(',');
  cmd->add_option("--threads", opts->threads, "threads the engine uses")->check(CLI::Range(1, 256));
  cmd->callback([opts] { run_run(*opts); });
}

}  // namespace spdinfer::cli
