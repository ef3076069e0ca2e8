// pinfs-emulator: see include/pinfs/emulator/emulator.hpp.
#include "pinfs/emulator/emulator.hpp"

int main(int argc, char** argv) {
  return pinfs::emulator::run_main(argc, argv);
}
