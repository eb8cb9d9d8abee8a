;; The smallest module: no imports, no memory, nothing to declare.
(module)
