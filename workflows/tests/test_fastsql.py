"""workflows.fastsql keeps the ORM's safety checks (found in review): a lock outside a
transaction is refused, and a related object saved after it was assigned lends its id."""

from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test import TestCase, TransactionTestCase
from django_scopes import scopes_disabled

from accounts.models import Company, CompanyRole
from workflows import fastsql


class RelatedIdTests(TestCase):
    def test_a_company_saved_after_assignment_lends_its_id(self) -> None:
        with scopes_disabled():
            company = Company(name="Later")
            role = CompanyRole(name="r", company=company)  # the company has no id yet
            company.save()
            fastsql.insert([role])
            self.assertEqual(CompanyRole.objects.get(pk=role.pk).company_id, company.pk)


class LockOutsideTransactionTests(TransactionTestCase):
    def test_a_lock_outside_a_transaction_is_refused_as_by_the_orm(self) -> None:
        with scopes_disabled():
            company = Company.objects.create(name="Locks")
            role = CompanyRole.objects.create(company=company, name="r")
            if not connection.features.has_select_for_update:
                self.skipTest("the database has no row locks (SQLite)")
            with self.assertRaises(TransactionManagementError):
                fastsql.lock(CompanyRole, role.pk)
            with transaction.atomic():
                self.assertEqual(fastsql.lock(CompanyRole, role.pk).pk, role.pk)
