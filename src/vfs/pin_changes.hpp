// PinChanges: one metadata change at a time per pin. A rename, an mtime or a setfattr reads the pin's index
// row, calls the service, and writes the row back with its change. Two at once on the same pin (rsync's
// utimes on a just-pinned file and its rename of the temp name, on different threads) would each write
// back a copy without the other's change; on AIOZ, where a change is a new pin by hash, each would even
// pin its own copy. Under this lock a change reads the row only once the previous change has written it.
#pragma once

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <utility>

namespace pinfs::vfs {

class PinChanges {
 public:
  // Held while one change of the pins of a CID runs (a rename keeps the CID; AIOZ changes the pin id).
  class Guard {
   public:
    Guard(PinChanges& owner, std::string cid) : owner_(&owner), cid_(std::move(cid)) {}
    Guard(Guard&& other) noexcept
        : owner_(std::exchange(other.owner_, nullptr)), cid_(std::move(other.cid_)) {}
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    Guard& operator=(Guard&&) = delete;
    ~Guard() {
      if (owner_) owner_->release(cid_);
    }
    const std::string& cid() const { return cid_; }

   private:
    PinChanges* owner_;
    std::string cid_;
  };

  // Waits until no other change of cid runs. Lock order: first — taken with no other VFS lock held
  // (Namespace::mu_, Uploads::mu_ and the index's lock are taken after it), and one at a time.
  Guard lock(const std::string& cid) {
    std::unique_lock lock(mu_);
    free_.wait(lock, [&] { return !busy_.contains(cid); });
    busy_.insert(cid);
    return Guard(*this, cid);
  }

 private:
  void release(const std::string& cid) {
    {
      std::lock_guard lock(mu_);
      busy_.erase(cid);
    }
    free_.notify_all();
  }

  std::mutex mu_;  // a leaf: guards busy_ only, never held while a change runs
  std::condition_variable free_;
  std::set<std::string> busy_;  // the CIDs whose change is running
};

}  // namespace pinfs::vfs
