"""Structures: reading/writing (:mod:`.load`), Cu7PS6 phases and supercell builders."""
