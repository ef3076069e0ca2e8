#include <spdlog/spdlog.h>

#include "json_util.hpp"
#include "pinfs/cid/cid.hpp"
#include "pinfs/service/json_decode.hpp"

namespace pinfs::service::json {
namespace {

// PinSize counts the DAG's encoded blocks; for a raw-leaf CID the one block is the file, so it is exact.
bool pin_size_is_dag(const std::string& cid) {
  auto parsed = cid::Cid::parse(cid);
  return !(parsed && parsed->codec() == cid::Codec::Raw);
}

Result<Pin> pinata_row(const Value& row) {
  if (!row.IsObject()) return fail(EIO, "pinList: row is not an object");
  Pin pin;
  pin.id = string_member(row, "id");
  pin.cid = string_member(row, "ipfs_pin_hash");
  if (pin.cid.empty()) return fail(EIO, "pinList: row without ipfs_pin_hash");
  if (auto ok = check_cid(pin.cid, "pinList", "ipfs_pin_hash"); !ok) return std::unexpected(ok.error());
  pin.size = uint_member(row, "size").value_or(0);
  pin.size_is_dag = pin_size_is_dag(pin.cid);
  pin.pinned_at = time_member(row, "date_pinned");
  if (const Value* metadata = object_member(row, "metadata")) {
    pin.name = string_member(*metadata, "name");
    pin.keyvalues = keyvalues_of(object_member(*metadata, "keyvalues"));
  }
  // Pinata marks directory uploads only through their file count.
  pin.is_dir =
      uint_member(row, "number_of_files").value_or(1) > 1 || string_member(row, "mime_type") == "directory";
  return pin;
}

PinJob pinata_job(const Value& row) {
  PinJob job;
  job.id = string_member(row, "id");
  job.cid = string_member(row, "ipfs_pin_hash");
  job.name = string_member(row, "name");
  job.status = string_member(row, "status");
  job.queued_at = time_member(row, "date_queued");
  return job;
}

}  // namespace

Result<PinPage> decode_pinata_pin_list(std::string_view body, std::size_t* rows_seen) {
  auto doc = parse(body, "pinList");
  if (!doc) return std::unexpected(doc.error());
  const Value* rows = array_member(*doc, "rows");
  if (!rows) return fail(EIO, "pinList: answer has no rows array");
  PinPage page;
  page.total = uint_member(*doc, "count");
  if (rows_seen) *rows_seen = rows->Size();
  for (const auto& row : rows->GetArray()) {
    auto pin = pinata_row(row);
    if (!pin) {
      spdlog::warn("{}; the row is left out", pin.error().message);
      continue;
    }
    page.pins.push_back(std::move(*pin));
  }
  return page;
}

Result<Pin> decode_pinata_upload(std::string_view body) {
  auto doc = parse(body, "pinFileToIPFS");
  if (!doc) return std::unexpected(doc.error());
  Pin pin;
  pin.cid = string_member(*doc, "IpfsHash");
  if (pin.cid.empty()) return fail(EIO, "pinFileToIPFS: answer has no IpfsHash");
  if (auto ok = check_cid(pin.cid, "pinFileToIPFS", "IpfsHash"); !ok) return std::unexpected(ok.error());
  pin.size = uint_member(*doc, "PinSize").value_or(0);
  pin.size_is_dag = pin_size_is_dag(pin.cid);
  pin.pinned_at = time_member(*doc, "Timestamp");
  pin.duplicate = bool_member(*doc, "isDuplicate");
  return pin;
}

Result<PinJob> decode_pinata_pin_by_hash(std::string_view body) {
  auto doc = parse(body, "pinByHash");
  if (!doc) return std::unexpected(doc.error());
  PinJob job;
  job.id = string_member(*doc, "id");
  job.cid = string_member(*doc, "ipfsHash");
  job.name = string_member(*doc, "name");
  job.status = string_member(*doc, "status");
  if (job.cid.empty()) return fail(EIO, "pinByHash: answer has no ipfsHash");
  if (auto ok = check_cid(job.cid, "pinByHash", "ipfsHash"); !ok) return std::unexpected(ok.error());
  return job;
}

Result<std::vector<PinJob>> decode_pinata_jobs(std::string_view body) {
  auto doc = parse(body, "pinJobs");
  if (!doc) return std::unexpected(doc.error());
  const Value* rows = array_member(*doc, "rows");
  if (!rows) return fail(EIO, "pinJobs: answer has no rows array");
  std::vector<PinJob> jobs;
  for (const auto& row : rows->GetArray()) {
    if (!row.IsObject()) continue;
    PinJob job = pinata_job(row);
    if (auto ok = check_cid(job.cid, "pinJobs", "ipfs_pin_hash"); !ok) {
      spdlog::warn("{}; the job is left out", ok.error().message);
      continue;
    }
    jobs.push_back(std::move(job));
  }
  return jobs;
}

Result<Totals> decode_pinata_totals(std::string_view body) {
  auto doc = parse(body, "userPinnedDataTotal");
  if (!doc) return std::unexpected(doc.error());
  Totals totals;
  totals.pin_count = uint_member(*doc, "pin_count").value_or(0);
  totals.size_total = uint_member(*doc, "pin_size_total").value_or(0);
  return totals;
}

}  // namespace pinfs::service::json
