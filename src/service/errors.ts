// The service installer's one error class: something the user can fix (a
// path, a flag, a unit that exists with other settings, a failed systemctl).

export class ServiceError extends Error {
  override name = "ServiceError";
}
