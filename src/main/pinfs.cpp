#include "pinfs/cli/commands.hpp"

int main(int argc, char** argv) { return pinfs::cli::run(argc, argv); }
