# `cpack -G DEB` in a build tree configured with -DCMAKE_INSTALL_PREFIX=/usr -> pinfs_<version>_<arch>.deb
# (scripts/package.sh does both and runs lintian). Depends come from the binaries (dpkg-shlibdeps) plus
# fuse3 for fusermount3, which libfuse runs to mount and unmount as a user.
set(CPACK_PACKAGE_NAME pinfs)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "pinfs maintainers <maintainers@pinfs.example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "mount an IPFS pinning-service account as a drive")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
       "pinfs mounts a Pinata or AIOZ W3IPFS pinning-service account as a\n"
       "FUSE filesystem: copying a file in pins it, rm unpins it, and reads\n"
       "come through the service's gateway with a local cache. The package\n"
       "also holds pinfs-emulator, a local service speaking the same APIs,\n"
       "the mount.fuse.pinfs helper for mount(8) and fstab, and systemd units.")
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "fuse3")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
