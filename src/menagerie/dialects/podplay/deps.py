"""This dialect's request dependencies: the shared platform, principal and admin guard."""

from menagerie.http.deps import AdminDep, OptionalPrincipalDep, PlatformDep, PrincipalDep

__all__ = ["AdminDep", "OptionalPrincipalDep", "PlatformDep", "PrincipalDep"]
