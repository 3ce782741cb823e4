# lit configuration of xfmr's dialect, pass and CLI tests.
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "xfmr"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.xfmr_obj_root, "test")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "e2e", "runtime", "autotune"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%shlibext", config.llvm_shlib_ext))
config.substitutions.append(("%xfmr_src", config.xfmr_src_root))
config.substitutions.append(("%xfmr_bin", os.path.join(config.xfmr_tools_dir, "xfmr")))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

# The project's tools first, then FileCheck, not, count from LLVM 19.
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.xfmr_tools_dir, append_path=True)
tools = ["xfmr-opt", "xfmr", "xfmr-generate", "FileCheck", "not", "count"]
llvm_config.add_tool_substitutions(tools, [config.xfmr_tools_dir, config.llvm_tools_dir])

config.substitutions.append(("%python", "python3"))
