# What `cmake --install` and the .deb put where. The systemd units run /usr/bin/pinfs, so a system-wide
# install uses -DCMAKE_INSTALL_PREFIX=/usr (as scripts/package.sh does); the default /usr/local suits a
# source install whose mount helper and units are linked in by hand (README, "Install from source").
include(GNUInstallDirs)

if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  # Where Debian 12 puts them: mount(8) looks for helpers in /sbin (libmount's "/sbin:/sbin/fs.d:/sbin/fs"),
  # and fuse3 ships /sbin/mount.fuse3; debhelper puts system units in /lib/systemd/system.
  set(PINFS_MOUNT_HELPER_DIR /sbin)
  set(PINFS_SYSTEM_UNIT_DIR /lib/systemd/system)
else()
  set(PINFS_MOUNT_HELPER_DIR ${CMAKE_INSTALL_SBINDIR})
  set(PINFS_SYSTEM_UNIT_DIR ${CMAKE_INSTALL_LIBDIR}/systemd/system)
endif()

install(TARGETS pinfs pinfs-emulator RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(PROGRAMS packaging/mount.fuse.pinfs DESTINATION ${PINFS_MOUNT_HELPER_DIR})
install(FILES systemd/pinfs@.service DESTINATION ${PINFS_SYSTEM_UNIT_DIR})
install(FILES systemd/user/pinfs@.service DESTINATION lib/systemd/user)
install(FILES packaging/config.toml DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES packaging/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})

add_subdirectory(docs/man)

# Debian wants the changelog (and man pages) compressed with gzip -9n: reproducible, no timestamp.
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/changelog.gz
  COMMAND gzip -9nc ${CMAKE_SOURCE_DIR}/packaging/changelog > ${CMAKE_BINARY_DIR}/changelog.gz
  DEPENDS ${CMAKE_SOURCE_DIR}/packaging/changelog
  VERBATIM)
add_custom_target(pinfs_changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/changelog.gz)
install(FILES ${CMAKE_BINARY_DIR}/changelog.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES docs/SEMANTICS.md docs/EMULATOR.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
