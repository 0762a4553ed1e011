# SPDX-License-Identifier: MIT
# Writes OUT, a C++ file naming the commit SOURCE_DIR is at and whether its tree then had changes
# not committed (results/ aside: ./bench renders every run into it, and a page is no change to
# what is measured). Run at every build; the file is rewritten only when these change, so a
# build with nothing new compiles nothing.
execute_process(COMMAND git -C "${SOURCE_DIR}" rev-parse --verify -q HEAD
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE failed)
string(LENGTH "${commit}" length)
if(failed OR NOT length EQUAL 40)  # not a git checkout, or no commit yet
  set(commit "unknown")
  set(dirty "unknown")
else()
  # --no-optional-locks: a build must not hold the index lock against the git commands of
  # whoever is building.
  execute_process(COMMAND git --no-optional-locks -C "${SOURCE_DIR}" status --porcelain --untracked-files=no
                          -- . ":(exclude)results"
                  OUTPUT_VARIABLE changes ERROR_QUIET RESULT_VARIABLE failed)
  if(failed)
    set(dirty "unknown")
  elseif(changes STREQUAL "")
    set(dirty "false")
  else()
    set(dirty "true")
  endif()
endif()
# Arrays of fixed sizes: a clean build and a dirty one of the same code lay out the same.
set(text "// Generated at build time by benchmarks/build_info.cmake: the source this binary was built from.
namespace concbench {
extern const char kBuildCommit[41] = \"${commit}\";
extern const char kBuildDirty[8] = \"${dirty}\";
}  // namespace concbench
")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
