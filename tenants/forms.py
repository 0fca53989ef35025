"""The install form: which shop, for which agency (only agencies where the user may install)."""

from django import forms

from tenants.install import agencies_user_may_install
from tenants.models import Agency, validate_shop_domain


class InstallForm(forms.Form):
    shop = forms.CharField(
        label="Shop domain",
        max_length=255,
        help_text="The store's myshopify domain, e.g. your-store.myshopify.com",
        widget=forms.TextInput(attrs={"placeholder": "your-store.myshopify.com"}),
    )
    agency = forms.ModelChoiceField(queryset=Agency.objects.none(), empty_label=None)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = agencies_user_may_install(user)
        self.fields["agency"].queryset = Agency.objects.filter(pk__in=[a.pk for a in allowed])
        self.fields["agency"].error_messages["invalid_choice"] = (
            "Choose an agency in which you may install shops."
        )
        if len(allowed) == 1:
            self.fields["agency"].initial = allowed[0].pk
            self.fields["agency"].required = False
        self.may_install = bool(allowed)
        self.single_agency = allowed[0] if len(allowed) == 1 else None

    def clean_shop(self) -> str:
        value = self.cleaned_data["shop"].strip().lower()
        value = value.removeprefix("https://").removeprefix("http://").rstrip("/")
        return validate_shop_domain(value)

    def clean_agency(self):
        agency = self.cleaned_data.get("agency")
        if agency is None and self.single_agency is not None:
            return self.single_agency
        if agency is None:
            raise forms.ValidationError("Choose an agency in which you may install shops.")
        return agency
