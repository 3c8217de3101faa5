"""The job types, shared by the routes that submit them and the handlers that run them."""
STUDENTS_DELETE = "students.delete"
PRODUCTS_BULK_GRANT = "products.bulk-grant"
STUDENTS_MERGE = "students.merge"
