"""The job types, shared by the routes that submit them and the handlers that run them."""
STUDENTS_DELETE = "students.delete"
