#include "backup_routes.hpp"

#include "eventstore/file_log.hpp"
#include "usecases/backup.hpp"

namespace keyledger::api {

namespace es = keyledger::eventstore;

void BackupRoutes::add_to(Router& router) {
  router.add("GET", "/v1/backup", [this](RequestContext& c) { return backup(c); });
}

Result BackupRoutes::backup(RequestContext& ctx) {
  KEYLEDGER_CHECK(access_.require_principal(ctx, Principal::Kind::platform_operator));
  auto* file_log = dynamic_cast<es::FileLog*>(&log_);
  if (!store_.starts_with("file:") || file_log == nullptr) {
    return std::unexpected(ApiError{409, "backup_unsupported",
                                    "a Kafka store is kept by Kafka's own replication; to copy it elsewhere, stop it "
                                    "and run keyledger migrate --from " + store_ + " --to file:DIR",
                                    "", {}});
  }
  auto stream = usecases::BackupStream::begin(*file_log, pipeline_, store_.substr(5), keyring_.master_key_id(), &digests_);
  if (!stream) return std::unexpected(ApiError{503, "backup_unavailable", stream.error(), "", {{"Retry-After", "1"}}});
  const std::string position = (*stream)->position().to_string();
  HttpResponse response{200, "application/x-tar", "", {}, {}};
  response.headers = {{"Content-Disposition", "attachment; filename=\"keyledger-backup-" +
                                                  std::to_string((*stream)->position().offset) + ".tar\""},
                      {"Keyledger-Backup-Position", position},
                      {"Keyledger-Backup-Held-Us", std::to_string((*stream)->held().count())}};
  std::shared_ptr<usecases::BackupStream> shared = std::move(*stream);
  response.stream = [shared](std::string& chunk) { return shared->next(chunk); };
  return response;
}

}  // namespace keyledger::api
